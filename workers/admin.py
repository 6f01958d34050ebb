from django.contrib import admin

from healthhub.roles import sites_for_role
from workers.models import Department, Site, StaffProfile, StaffRole, Worker


def admin_sites(request):
    """The sites a Django-admin user manages: all for superusers, their own
    for site administrators."""
    if request.user.is_superuser:
        return Site.objects.all()
    return sites_for_role(request.user, StaffRole.SITE_ADMIN)


class SiteScopedAdmin(admin.ModelAdmin):
    site_path = "site"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(**{f"{self.site_path}__in": admin_sites(request)}).distinct()


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
