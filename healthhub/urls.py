from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from alerts import apis as alert_apis
from devices import apis as device_apis
from workers import apis as worker_apis

api_v1 = [
    path("ingest/", device_apis.IngestApi.as_view(), name="ingest"),
    path("devices/", device_apis.DeviceProvisionApi.as_view(), name="device-provision"),
    path("devices/<str:serial>/revoke/", device_apis.DeviceRevokeApi.as_view(), name="device-revoke"),
    path("workers/<int:worker_id>/readings/", device_apis.WorkerReadingsApi.as_view(), name="worker-readings"),
    path("checkins/", worker_apis.CheckInApi.as_view(), name="checkin"),
    path("workers/<int:worker_id>/checkins/", worker_apis.WorkerCheckInsApi.as_view(), name="worker-checkins"),
    path("workers/<int:worker_id>/snoozes/", alert_apis.SnoozeApi.as_view(), name="worker-snooze"),
    path("alerts/", alert_apis.AlertListApi.as_view(), name="alerts"),
    path("alerts/<int:alert_id>/", alert_apis.AlertDetailApi.as_view(), name="alert"),
    re_path(
        r"^alerts/(?P<alert_id>[0-9]+)/(?P<action>acknowledge|resolve|annotate|escalate)/$",
        alert_apis.AlertActionApi.as_view(),
        name="alert-action",
    ),
]

urlpatterns = [
    path("", include("workers.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("insights/", include("insights.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
