from django.urls import path

from desk import triage, views

app_name = "desk"

urlpatterns = [
    path("", views.home, name="home"),
    path("workers/<int:worker_id>/", views.worker_detail, name="worker-detail"),
    path("desk/", triage.triage, name="triage"),
    path("desk/alerts/<int:alert_id>/row/", triage.triage_row, name="triage-row"),
    path("desk/sites/<int:site_id>/", views.site_overview, name="desk-site"),
]
