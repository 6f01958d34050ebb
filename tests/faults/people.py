"""The clinician who must be reached in the fault tests: on call, with a
phone subscribed to Web Push. Used in the test process and, for the
PostgreSQL restart, in the shell that provisions the private database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.models import OnCall
from alerts.notify import services as notify


def on_call_with_a_phone(clinician, site, endpoint: str, p256dh: str, auth: str) -> None:
    """The clinician is on call at the site now, wants urgent and critical
    alerts by push, and has one phone subscribed at ``endpoint``."""
    now = datetime.now(UTC)
    OnCall.objects.create(
        site=site, shift="day", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=12), primary=clinician
    )
    notify.preference_save(
        user=clinician, channels={"push": ["urgent", "critical"], "email": [], "sms": []}, phone="",
        quiet_start=None, quiet_end=None, language="en", time_zone="Asia/Seoul",
    )  # fmt: skip
    notify.subscription_save(user=clinician, name="phone", endpoint=endpoint, p256dh=p256dh, auth=auth)
