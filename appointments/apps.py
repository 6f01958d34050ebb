from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppointmentsConfig(AppConfig):
    """Care at the time the worker chooses: clinicians publish availability
    per site, workers book, reschedule and cancel slots, reminders go out the
    day before and 15 minutes before, the consultation room opens at the
    slot, no-shows are recorded, clinicians get a calendar feed."""

    name = "appointments"
    verbose_name = _("Appointments")
