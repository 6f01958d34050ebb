"""Device provisioning for site administrators. Readings are deliberately not
in the admin: health data is read through the audited views only."""

from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from devices.models import Device
from devices.services import device_assign, device_provision, device_revoke, device_token_rotate
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
        with transaction.atomic():
            for device in queryset.select_for_update():
                device_revoke(device=device, by=request.user)
        count = queryset.count()
        self.message_user(request, ngettext("%d device revoked.", "%d devices revoked.", count) % count)

    @admin.action(description=_("Issue a new token for selected devices"), permissions=["change"])
    def rotate_token(self, request, queryset):
        for device in queryset:
            token = device_token_rotate(device=device, by=request.user)
            messages.warning(
                request,
                _("New token for %(serial)s, shown this once only: %(token)s")
                % {"serial": device.serial, "token": token},
            )
