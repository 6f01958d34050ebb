"""DRF authentication that follows the sign-in policy."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
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
