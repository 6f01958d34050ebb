from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from workers.models import AccessLog, Consent, ConsentText, Department, Site, StaffProfile, StaffRole, Worker
from workers.roles import administered_sites


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
    list_display = ["employee_number", "user", "site", "department", "shift_pattern"]
    list_filter = ["site", "department", "shift_pattern"]
    search_fields = ["employee_number", "user__username", "user__first_name", "user__last_name"]
    raw_id_fields = ["user"]


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


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    """Who read whose health data: for the site's administrators to answer
    for it (and to export it), never to read the data itself."""

    site_path = "worker__site"
    list_display = ["at", "accessor", "worker", "what", "reason"]
    list_filter = ["what"]
    search_fields = ["worker__employee_number", "accessor__username"]
    date_hierarchy = "at"
    actions = ["export_csv"]

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or admin_sites(request).exists()

    def has_module_permission(self, request):
        return self.has_view_permission(request)

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
    site_path = "worker__site"
    list_display = ["at", "worker", "decision", "text", "recorded_by"]
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
