"""Device provisioning for site administrators. Readings are deliberately not
in the admin: health data is read through the audited views only."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from devices.forms import DeviceAssignForm
from devices.models import Device, DeviceStatus
from devices.services import (
    ProvisioningError,
    device_assign,
    device_provision,
    device_revoke,
    device_token_rotate,
)
from workers.admin import admin_sites
from workers.models import Worker


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["serial", "model", "worker", "status", "last_seen_at", "battery"]
    list_filter = ["status", "model"]
    search_fields = ["serial", "worker__employee_number"]
    raw_id_fields = ["worker"]
    readonly_fields = ["status", "token_issued_at", "last_seen_at", "battery"]
    actions = ["revoke", "rotate_token"]

    # A device is revoked, never deleted: deleting it would take the
    # worker's readings with it, and the confirmation page would list them.
    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    # A device belongs to a site through its worker. One assigned to nobody
    # belongs to no site, so only superusers see it; site administrators
    # provision and assign devices to their own sites' workers only.
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(worker__site__in=admin_sites(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "worker" and not request.user.is_superuser:
            kwargs["queryset"] = Worker.objects.filter(site__in=admin_sites(request))
            kwargs["required"] = True
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # Provisioning and reassignment go through the services, which issue
        # the token and close a connection opened under an old assignment.
        if not change:
            device, token = device_provision(serial=obj.serial, model=obj.model, worker=obj.worker, by=request.user)
            obj.pk = device.pk
            messages.warning(
                request,
                _("Device %(serial)s provisioned. Its token, shown this once only: %(token)s")
                % {"serial": device.serial, "token": token},
            )
            return
        if "worker" in form.changed_data:
            device_assign(device=obj, worker=obj.worker, by=request.user)
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Revoke the token of selected devices"), permissions=["change"])
    def revoke(self, request, queryset):
        """Asks first (a revoked wearable stops sending at once, and the
        worker is unmonitored until it gets a new token)."""
        if request.POST.get("post") != "yes":
            return TemplateResponse(
                request,
                "admin/devices/device/revoke_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "title": _("Revoke these devices?"),
                    "devices": queryset.select_related("worker__user"),
                    "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
                    "action_form": True,
                },
            )
        with transaction.atomic():
            for device in queryset.select_for_update():
                device_revoke(device=device, by=request.user)
        count = queryset.count()
        self.message_user(request, ngettext("%d device revoked.", "%d devices revoked.", count) % count)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("assign/", wrap(self.assign_view), name="devices_device_assign"),
            path("<int:device_id>/revoke/", wrap(self.revoke_view), name="devices_device_revoke"),
            *super().get_urls(),
        ]

    def _worker_page(self, worker_id: int):
        return redirect("admin:workers_worker_change", worker_id)

    def assign_view(self, request):
        """From a worker's page: give them a wearable by its serial. A new
        serial is provisioned (its token shown once); a device of the
        administrator's sites moves to this worker; any other is refused."""
        worker = get_object_or_404(
            self._workers(request).select_related("user"), pk=request.GET.get("worker") or request.POST.get("worker")
        )
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        form = DeviceAssignForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            serial = form.cleaned_data["serial"].strip()
            existing = Device.objects.filter(serial=serial).first()
            if existing is None:
                try:
                    device, token = device_provision(serial=serial, model=form.cleaned_data["model"], worker=worker)
                except ProvisioningError as error:
                    form.add_error("serial", str(error))
                else:
                    messages.warning(
                        request,
                        _("Device %(serial)s provisioned. Its token, shown this once only: %(token)s")
                        % {"serial": device.serial, "token": token},
                    )
                    return self._worker_page(worker.pk)
            elif self.get_queryset(request).filter(pk=existing.pk).exists():
                device_assign(device=existing, worker=worker)
                messages.success(
                    request, _("Device %(serial)s is now %(worker)s's.") % {"serial": serial, "worker": worker}
                )
                return self._worker_page(worker.pk)
            else:
                form.add_error("serial", _("This serial belongs to a device you do not manage."))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Assign a wearable to %(worker)s") % {"worker": worker},
            "form": form,
            "worker": worker,
        }
        return TemplateResponse(request, "admin/devices/device/assign.html", context)

    def revoke_view(self, request, device_id: int):
        """Revoke one device from the worker's page, after a confirmation."""
        device = get_object_or_404(self.get_queryset(request).select_related("worker__user"), pk=device_id)
        if not self.has_change_permission(request, device):
            raise PermissionDenied
        if request.method == "POST" and request.POST.get("post") == "yes":
            device_revoke(device=device)
            self.message_user(request, ngettext("%d device revoked.", "%d devices revoked.", 1) % 1)
            return (
                self._worker_page(device.worker_id) if device.worker_id else redirect("admin:devices_device_changelist")
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Revoke these devices?"),
            "devices": [device],
            "already_revoked": device.status == DeviceStatus.REVOKED,
        }
        return TemplateResponse(request, "admin/devices/device/revoke_confirm.html", context)

    def _workers(self, request):
        if request.user.is_superuser:
            return Worker.objects.all()
        return Worker.objects.filter(site__in=admin_sites(request))

    @admin.action(description=_("Issue a new token for selected devices"), permissions=["change"])
    def rotate_token(self, request, queryset):
        for device in queryset:
            token = device_token_rotate(device=device, by=request.user)
            messages.warning(
                request,
                _("New token for %(serial)s, shown this once only: %(token)s")
                % {"serial": device.serial, "token": token},
            )
