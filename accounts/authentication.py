"""DRF authentication that follows the sign-in policy."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.policy import is_staff_member


class BasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic for scripts and workers' apps. A password alone is one
    factor: staff must use the website's session, which passed the second."""

    def authenticate_credentials(self, userid: str, password: str, request: Any = None) -> tuple:
        user, auth = super().authenticate_credentials(userid, password, request)
        if settings.HEALTHHUB_REQUIRE_MFA and is_staff_member(user):
            raise exceptions.AuthenticationFailed(
                _("Staff accounts cannot use password-only API access: sign in on the website.")
            )
        return user, auth


class BasicAuthenticationScheme(OpenApiAuthenticationExtension):
    """The schema documents it as HTTP Basic (drf-spectacular knows DRF's
    class, not this subclass; defined here so that it registers whenever the
    class is loaded)."""

    target_class = BasicAuthentication
    name = "basicAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic"}
