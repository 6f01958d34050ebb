"""Clinicians' availability, kept by site administrators (or superusers) for
the clinicians of their sites."""

from django.contrib import admin

from appointments.models import Availability, AvailabilityException
from workers.admin import admin_sites


class SiteScopedAdmin(admin.ModelAdmin):
    list_filter = ["site"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(site__in=admin_sites(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "site" and not request.user.is_superuser:
            kwargs["queryset"] = admin_sites(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Availability)
class AvailabilityAdmin(SiteScopedAdmin):
    list_display = ["clinician", "site", "weekday", "starts", "ends", "slot_minutes", "mode", "overnight"]


@admin.register(AvailabilityException)
class AvailabilityExceptionAdmin(SiteScopedAdmin):
    list_display = ["clinician", "site", "day", "starts", "ends", "available"]
