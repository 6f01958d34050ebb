from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from workers.forms import EnrolForm, ImportForm
from workers.models import (
    AccessLog,
    Consent,
    ConsentText,
    Department,
    ShiftPattern,
    Site,
    StaffProfile,
    StaffRole,
    Worker,
    WorkerEventKind,
)
from workers.names import person_name
from workers.roles import administered_sites
from workers.services import (
    IMPORT_COLUMNS,
    NewWorker,
    sign_in_code_issue,
    worker_deactivate,
    worker_enrol,
    worker_event_record,
    worker_reactivate,
    workers_import,
)
from workers.sign_in_sheet import sheets_keep, sheets_take


def admin_sites(request):
    """The sites a Django-admin user manages: all for superusers, their own
    for site administrators."""
    return administered_sites(request.user)


def _scoped_choices(model, request):
    """The choices a site administrator may pick for a relation to ``model``
    (None: unrestricted), so that nobody moves a record to, or grants
    themself, a site they do not manage."""
    if request.user.is_superuser:
        return None
    if model is Site:
        return admin_sites(request)
    if model is Department:
        return Department.objects.filter(site__in=admin_sites(request))
    if model is Worker:
        return Worker.objects.filter(site__in=admin_sites(request))
    return None


class SiteScopedAdmin(admin.ModelAdmin):
    site_path = "site"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(**{f"{self.site_path}__in": admin_sites(request)}).distinct()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        choices = _scoped_choices(db_field.related_model, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        choices = _scoped_choices(db_field.related_model, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Site)
class SiteAdmin(SiteScopedAdmin):
    site_path = "id"
    list_display = ["code", "name", "timezone"]


@admin.register(Department)
class DepartmentAdmin(SiteScopedAdmin):
    list_display = ["name", "site"]
    list_filter = ["site"]


@admin.register(Worker)
class WorkerAdmin(SiteScopedAdmin):
    """Workers of the administrator's sites. A worker is enrolled (sign-in
    and worker record together, with a first sign-in sheet), one by one or
    from a CSV; deactivated, never deleted; their wearables are assigned and
    revoked from their page (the device admin's views, linked by URL)."""

    list_display = ["employee_number", "name", "site", "department", "shift_pattern", "active"]
    list_filter = ["site", "department", "shift_pattern", "user__is_active"]
    search_fields = ["employee_number", "user__username", "user__first_name", "user__last_name"]
    readonly_fields = ["user"]
    actions = ["deactivate", "reactivate"]
    change_form_template = "admin/workers/worker/change_form.html"
    change_list_template = "admin/workers/worker/change_list.html"

    @admin.display(description=_("name"), ordering="user__first_name")
    def name(self, worker: Worker) -> str:
        return person_name(worker.user)

    @admin.display(description=_("active"), boolean=True, ordering="user__is_active")
    def active(self, worker: Worker) -> bool:
        return worker.user.is_active

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "site", "department")

    # Who a worker record is: a change is told to the worker (privacy page)
    # and kept, with who made it, in the append-only worker events.
    IDENTITY_FIELDS = ("employee_number", "department", "site", "birth_year")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = [name for name in self.IDENTITY_FIELDS if name in form.changed_data]
        if change and changed:
            worker_event_record(
                worker_id=obj.pk, kind=WorkerEventKind.IDENTITY_CHANGED, detail=", ".join(changed), by=request.user
            )

    def has_delete_permission(self, request, obj=None):
        # Health history and the access log hang off the worker: deactivate.
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="workers_worker_import"),
            path("sheets/", wrap(self.sheets_view), name="workers_worker_sheets"),
            path("<int:worker_id>/sign-in-code/", wrap(self.sign_in_code_view), name="workers_worker_sign_in_code"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        """Adding a worker is enrolling one: a new sign-in with the worker
        record, never a link to an existing user (which could be staff)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        departments = Department.objects.filter(site__in=admin_sites(request))
        form = EnrolForm(request.POST or None, departments=departments)
        if request.method == "POST" and form.is_valid():
            enrolled = worker_enrol(new=NewWorker(**form.cleaned_data), by=request.user)
            sheets_keep(request, [(enrolled.worker.pk, enrolled.code)])
            messages.success(
                request,
                _("%(worker)s is enrolled. Print their first sign-in sheet now: the code is shown once.")
                % {"worker": enrolled.worker},
            )
            return redirect("admin:workers_worker_sheets")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("New worker"),
            "form": form,
            "import_url": reverse("admin:workers_worker_import"),
        }
        return TemplateResponse(request, "admin/workers/worker/enrol.html", context)

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None, sites=admin_sites(request))
        result = None
        if request.method == "POST" and form.is_valid():
            result = workers_import(
                data=form.cleaned_data["file"].read(),
                site=form.cleaned_data["site"],
                only_valid=form.cleaned_data["only_valid"],
                by=request.user,
            )
            if result.enrolled:
                sheets_keep(request, [(e.worker.pk, e.code) for e in result.enrolled])
                skipped = len(result.invalid)
                messages.success(
                    request,
                    ngettext("%(count)d worker imported.", "%(count)d workers imported.", len(result.enrolled))
                    % {"count": len(result.enrolled)}
                    + (
                        " "
                        + ngettext(
                            "%(count)d row with errors was left out.",
                            "%(count)d rows with errors were left out.",
                            skipped,
                        )
                        % {"count": skipped}
                        if skipped
                        else ""
                    ),
                )
                if not skipped:
                    return redirect("admin:workers_worker_sheets")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import workers from CSV"),
            "form": form,
            "result": result,
            "columns": IMPORT_COLUMNS,
            "shift_patterns": ShiftPattern.values,
        }
        return TemplateResponse(request, "admin/workers/worker/import.html", context)

    def sheets_view(self, request):
        if not self.has_add_permission(request) and not self.has_change_permission(request):
            raise PermissionDenied
        context = {"sheets": sheets_take(request), "title": _("First sign-in sheets")}
        return TemplateResponse(request, "admin/workers/worker/sheets.html", context)

    def sign_in_code_view(self, request, worker_id: int):
        """A new one-time code for a worker who lost theirs (POST only: the
        old code stops working)."""
        worker = self.get_object(request, str(worker_id))
        if worker is None or not self.has_change_permission(request, worker):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not worker.user.is_active:
            messages.error(request, _("Reactivate the worker first."))
            return redirect("admin:workers_worker_change", worker.pk)
        code = sign_in_code_issue(user=worker.user, by=request.user)
        sheets_keep(request, [(worker.pk, code)])
        return redirect("admin:workers_worker_sheets")

    @admin.action(
        description=_("Deactivate the selected workers (sign-in stops; nothing is deleted)"), permissions=["change"]
    )
    def deactivate(self, request, queryset):
        for worker in queryset.select_related("user"):
            worker_deactivate(worker=worker)
        count = queryset.count()
        self.message_user(request, ngettext("%d worker deactivated.", "%d workers deactivated.", count) % count)

    @admin.action(description=_("Reactivate the selected workers"), permissions=["change"])
    def reactivate(self, request, queryset):
        for worker in queryset.select_related("user"):
            worker_reactivate(worker=worker)
        count = queryset.count()
        self.message_user(request, ngettext("%d worker reactivated.", "%d workers reactivated.", count) % count)


@admin.register(StaffProfile)
class StaffProfileAdmin(SiteScopedAdmin):
    site_path = "sites"
    list_display = ["user", "role"]
    list_filter = ["role"]
    filter_horizontal = ["sites"]
    raw_id_fields = ["user"]

    def save_related(self, request, form, formsets, change):
        # The form offers only the editor's own sites; a profile that also
        # covers other sites keeps them.
        others = []
        if change and not request.user.is_superuser:
            others = list(form.instance.sites.exclude(pk__in=admin_sites(request)))
        super().save_related(request, form, formsets, change)
        if others:
            form.instance.sites.add(*others)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        # Granting the clinician role grants access to health data: only a
        # superuser (the programme's operator) may do it, so that a site
        # administrator cannot give themself or a colleague that access.
        if db_field.name == "role" and not request.user.is_superuser:
            kwargs["choices"] = [(v, label) for v, label in StaffRole.choices if v != StaffRole.CLINICIAN]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        # Nor may they change or delete an existing clinician's profile (say,
        # to move it to a user of theirs); they can still see who covers their sites.
        if obj is not None and obj.role == StaffRole.CLINICIAN and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.role == StaffRole.CLINICIAN and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


class ReadOnlyAdmin(SiteScopedAdmin):
    """A record the application only ever appends to: listed, filtered and
    exported here, never added, changed or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# What was read, as the access log stores it (the code's words), in the
# administrator's language.
ACCESS_WHAT = {
    "worker page": pgettext_lazy("access log", "worker page"),
    "readings": pgettext_lazy("access log", "readings"),
    "alerts": pgettext_lazy("access log", "alerts"),
    "alert": pgettext_lazy("access log", "an alert"),
    "check-ins": pgettext_lazy("access log", "check-ins"),
    "snooze": pgettext_lazy("access log", "alert snooze"),
    "consultation": pgettext_lazy("access log", "a consultation"),
    "consultations": pgettext_lazy("access log", "consultations"),
    "consultation chat": pgettext_lazy("access log", "consultation chat"),
    "consultation notes": pgettext_lazy("access log", "consultation notes"),
    "cluster signal": pgettext_lazy("access log", "outbreak signal"),
    "portal": pgettext_lazy("access log", "own portal"),
}


class AccessWhatFilter(admin.SimpleListFilter):
    title = _("what")
    parameter_name = "what"

    def lookups(self, request, model_admin):
        return [(key, label) for key, label in ACCESS_WHAT.items()]

    def queryset(self, request, queryset):
        return queryset.filter(what=self.value()) if self.value() else queryset


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    """Who read whose health data: for the site's administrators to answer
    for it (and to export it), never to read the data itself."""

    site_path = "worker__site"
    list_display = ["at", "accessor", "worker", "what_label", "reason"]
    list_filter = [AccessWhatFilter]
    search_fields = ["worker__employee_number", "accessor__username"]
    date_hierarchy = "at"
    actions = ["export_csv"]

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or admin_sites(request).exists()

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description=_("what"), ordering="what")
    def what_label(self, entry: AccessLog) -> str:
        return str(ACCESS_WHAT.get(entry.what, entry.what))

    @admin.action(description=_("Export the selected entries as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        from django.http import HttpResponse

        from healthhub.spreadsheets import csv_writer

        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="access-log.csv"'
        response.write("\ufeff")
        writer = csv_writer(response)  # a reason is free text: no formula may run when it is opened
        writer.writerow(["at", "accessor", "employee_number", "what", "reason"])
        for entry in queryset.select_related("accessor", "worker").order_by("at"):
            writer.writerow(
                [
                    entry.at.isoformat(),
                    entry.accessor.get_username(),
                    entry.worker.employee_number,
                    entry.what,
                    entry.reason,
                ]
            )
        return response


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    """Consent decisions of the administrator's sites' workers: listed for
    them to answer for (who agreed to which text, when), never edited."""

    site_path = "worker__site"

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or admin_sites(request).exists()

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    list_display = ["at", "worker", "decision", "text", "language", "recorded_by"]
    list_filter = ["decision", "text"]
    search_fields = ["worker__employee_number"]


@admin.register(ConsentText)
class ConsentTextAdmin(admin.ModelAdmin):
    """Publishing a new version is adding one; a published text is never changed."""

    list_display = ["version", "published_at"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return request.user.is_superuser
