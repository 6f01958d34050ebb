from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from devices import apis as device_apis

api_v1 = [
    path("ingest/", device_apis.IngestApi.as_view(), name="ingest"),
    path("devices/", device_apis.DeviceProvisionApi.as_view(), name="device-provision"),
    path("devices/<str:serial>/revoke/", device_apis.DeviceRevokeApi.as_view(), name="device-revoke"),
    path("workers/<int:worker_id>/readings/", device_apis.WorkerReadingsApi.as_view(), name="worker-readings"),
]

urlpatterns = [
    path("", include("workers.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
