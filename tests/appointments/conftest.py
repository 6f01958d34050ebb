from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from appointments.models import Availability

SEOUL = ZoneInfo("Asia/Seoul")
# A Monday, 09:00 in Seoul.
MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=SEOUL)


def seoul(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in the week of MONDAY_9 (day 0 = Monday), in Seoul."""
    return MONDAY_9.replace(hour=hour, minute=minute) + timedelta(days=day)


@pytest.fixture
def clara_hours(clara, site_a):
    """clara sees workers by video on Mondays and Tuesdays, 14:00-15:00, in
    20-minute slots."""
    for weekday in (0, 1):
        Availability.objects.create(
            clinician=clara, site=site_a, weekday=weekday, starts=time(14), ends=time(15), slot_minutes=20
        )
