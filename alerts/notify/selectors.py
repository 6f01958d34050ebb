"""Reads for notifications: a user's preferences and devices, and the
lock-screen text (which names no diagnosis and no worker)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext

from alerts.models import Alert, NotificationPreference, PushSubscription


def preference_of(user: AbstractBaseUser) -> NotificationPreference:
    """The user's preferences, or the defaults (unsaved) if they set none."""
    found = NotificationPreference.objects.filter(user=user).first()
    return found or NotificationPreference(user=user)


def subscriptions_of(user: AbstractBaseUser) -> QuerySet[PushSubscription]:
    return PushSubscription.objects.filter(user=user)


def in_quiet_hours(pref: NotificationPreference, now: datetime) -> bool:
    """Whether ``now`` falls in the user's quiet hours (local time; a span
    that crosses midnight, 22:00–07:00, works as written)."""
    start, end = pref.quiet_start, pref.quiet_end
    if start is None or end is None or start == end:
        return False
    local: time = now.astimezone(ZoneInfo(pref.time_zone)).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def lock_screen_text(alert: Alert, *, for_worker: bool, language: str) -> tuple[str, str]:
    """(title, body) for a notification about ``alert``: the severity and the
    site only. What happened and to whom is shown after sign-in."""
    with translation.override(language):
        severity = alert.get_severity_display()
        site = alert.worker.site.name
        if for_worker:
            body = gettext("New alert for you: open healthhub")
        else:
            body = gettext("%(severity)s alert at %(site)s: open healthhub") % {"severity": severity, "site": site}
        return "healthhub", body
