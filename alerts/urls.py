from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.triage, name="triage"),
    path("alerts/<int:alert_id>/row/", views.triage_row, name="triage-row"),
]
