from allauth.account import views as account_views
from csp.decorators import csp_update
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_pages
from alerts import apis as alert_apis
from consultations.urls import api_urlpatterns as consultation_apis
from devices import apis as device_apis
from workers import apis as worker_apis
from workers import first_login_views

api_v1 = [
    path("ingest/", device_apis.IngestApi.as_view(), name="ingest"),
    path("devices/", device_apis.DeviceProvisionApi.as_view(), name="device-provision"),
    path("devices/<str:serial>/revoke/", device_apis.DeviceRevokeApi.as_view(), name="device-revoke"),
    path("workers/<int:worker_id>/readings/", device_apis.WorkerReadingsApi.as_view(), name="worker-readings"),
    path("checkins/", worker_apis.CheckInApi.as_view(), name="checkin"),
    path("workers/<int:worker_id>/checkins/", worker_apis.WorkerCheckInsApi.as_view(), name="worker-checkins"),
    path(
        "workers/<int:worker_id>/clinical-profile/",
        worker_apis.WorkerClinicalProfileApi.as_view(),
        name="worker-clinical-profile",
    ),
    path("workers/<int:worker_id>/snoozes/", alert_apis.SnoozeApi.as_view(), name="worker-snooze"),
    path("alerts/", alert_apis.AlertListApi.as_view(), name="alerts"),
    path("push-subscriptions/", alert_apis.PushSubscriptionApi.as_view(), name="push-subscriptions"),
    path("alerts/<int:alert_id>/", alert_apis.AlertDetailApi.as_view(), name="alert"),
    re_path(
        r"^alerts/(?P<alert_id>[0-9]+)/(?P<action>acknowledge|resolve|annotate|escalate)/$",
        alert_apis.AlertActionApi.as_view(),
        name="alert-action",
    ),
    path("consultations/", include(consultation_apis)),
]

# Sign-in (accounts/): allauth's pages that are used here, no
# sign-up, no e-mail or password-reset pages (accounts are made by
# administrators). The login and logout pages answer to Django's names
# ("login", "logout") and to allauth's, which its own code reverses.
accounts = [
    path("login/", account_views.login, name="login"),
    path("login/", account_views.login, name="account_login"),
    path("logout/", account_views.logout, name="logout"),
    path("logout/", account_views.logout, name="account_logout"),
    path("inactive/", account_views.account_inactive, name="account_inactive"),
    path("reauthenticate/", account_views.reauthenticate, name="account_reauthenticate"),
    path("first-login/", first_login_views.first_login, name="first-login"),
    path("first-login/password/", first_login_views.first_login_password, name="first-login-password"),
    path("2fa/", include("allauth.mfa.urls")),  # TOTP enrolment, recovery codes, the code step
]

urlpatterns = [
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("icons/favicon.svg"), permanent=True)),
    path("", include("desk.urls")),  # the clinicians' desk, and the home page that sends each role on
    path("consultations/", include("consultations.urls")),
    path("me/", include("portal.urls")),  # the worker portal
    path("notifications/", include("alerts.urls")),  # devices and channels that get alerts
    path("accounts/", include(accounts)),
    # Before Django's own: the switch also remembers a worker's choice.
    path("i18n/setlang/", account_pages.set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("insights/", include("insights.urls")),
    path("admin/login/", account_pages.admin_login),  # the one login page, with its second factor
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    # Signed-in users only (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]). The
    # docs page loads its start-up script as a file (no inline script under
    # the CSP); its one inline <style> is allowed on that page alone.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api-docs",
    ),
]

handler400 = "healthhub.errors.bad_request"
handler403 = "healthhub.errors.permission_denied"
handler404 = "healthhub.errors.not_found"
handler500 = "healthhub.errors.server_error"
