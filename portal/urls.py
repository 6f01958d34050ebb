"""The worker portal, included at /me/ (namespace "portal"). The service
worker lives here too, so that its scope is /me/."""

from django.urls import path

from portal import appointments, guidance
from portal import views as views

app_name = "portal"

urlpatterns = [
    path("", views.today, name="today"),
    path("checkin/", views.checkin, name="checkin"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/consent/", views.consent, name="consent"),
    path("appointments/", appointments.appointments, name="appointments"),
    path("appointments/book/", appointments.book, name="appointment-book"),
    path("appointments/<int:appointment_id>/cancel/", appointments.cancel, name="appointment-cancel"),
    path("appointments/<int:appointment_id>/join/", appointments.join, name="appointment-join"),
    path("guide/", guidance.guide_list, name="guides"),
    path("guide/<slug:slug>/", guidance.guide, name="guide"),
    path("data/", views.data, name="data"),
    path("data/export.json", views.export_json, name="export-json"),
    path("data/export.fhir.json", views.export_fhir, name="export-fhir"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("offline/", views.offline, name="offline"),
]
