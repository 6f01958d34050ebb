from django.urls import path

from desk import appointments, respond, response_metrics, triage, views

app_name = "desk"

urlpatterns = [
    path("", views.home, name="home"),
    path("workers/<int:worker_id>/", views.worker_detail, name="worker-detail"),
    path("desk/", triage.triage, name="triage"),
    path("desk/alerts/<int:alert_id>/row/", triage.triage_row, name="triage-row"),
    path("desk/sites/<int:site_id>/", views.site_overview, name="desk-site"),
    path("desk/workers/<int:worker_id>/snooze/", triage.snooze, name="snooze"),
    path("desk/response/", response_metrics.response_metrics, name="response-metrics"),
    path("desk/response.csv", response_metrics.response_metrics_csv, name="response-metrics-csv"),
    path("respond/", respond.respond, name="respond"),
    path("respond/<int:alert_id>/<str:step>/", respond.respond_mark, name="respond-mark"),
    path("desk/appointments/", appointments.appointments, name="appointments"),
    path("desk/appointments/propose/", appointments.propose, name="appointment-propose"),
    path("desk/appointments/<int:appointment_id>/join/", appointments.join, name="appointment-join"),
    path("desk/calendar/<str:token>.ics", appointments.calendar_feed, name="calendar-feed"),
]
