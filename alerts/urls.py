"""The notification settings page, included at /notifications/ (namespace "alerts")."""

from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.notification_settings, name="notifications"),
    path("devices/<int:subscription_id>/rename/", views.device_rename, name="device-rename"),
    path("devices/<int:subscription_id>/remove/", views.device_remove, name="device-remove"),
    path("devices/test/", views.device_test, name="device-test"),
]
