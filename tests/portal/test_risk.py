"""Today's risk for scripted site conditions (portal.risk): the pure
computation with plain tables, and the Today page that shows it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone, translation

from alerts.rules.base import Evaluation, Severity
from alerts.rules.heat import kma_apparent_temperature_c
from alerts.services import alert_apply
from devices.models import Reading
from portal.risk import AlertFact, CheckInFact, HourClimate, today_risk, today_risk_for
from workers.models import CheckIn

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture(autouse=True)
def fresh_climate_cache():
    """The site's air is cached per site id, and ids repeat between tests."""
    cache.clear()
    yield
    cache.clear()


# 10:00 in Seoul on a summer day.
NOW = datetime(2026, 7, 21, 10, 0, tzinfo=SEOUL)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def hours_at(day_offset: int, temps: dict[int, tuple[float, float]]) -> list[HourClimate]:
    """Hourly (temp, humidity) at local hours of NOW's day + day_offset."""
    day = NOW.date() + timedelta(days=day_offset)
    return [
        HourClimate(hour=datetime(day.year, day.month, day.day, h, tzinfo=SEOUL).astimezone(UTC), temp_c=t, humidity=rh)
        for h, (t, rh) in temps.items()
    ]


def risk(hours=(), acclimatized=None, alerts=(), checkin=None):
    return today_risk(now=NOW, tz=SEOUL, hours=hours, acclimatized=acclimatized, alerts=alerts, checkin=checkin)


# 33.5 °C at 60 % reads a perceived 34 °C (KMA): the 33 °C rest level.
HOT_YESTERDAY = hours_at(-1, {9: (29.0, 60.0), 14: (33.5, 60.0), 16: (32.0, 60.0)})


def test_the_formula_behind_the_scripted_hot_day():
    assert kma_apparent_temperature_c(33.5, 60.0) == pytest.approx(34.0, abs=0.5)
    assert 33.0 <= kma_apparent_temperature_c(33.5, 60.0) < 35.0


def test_hot_yesterday_says_when_and_how_hot_with_the_rest_schedule():
    heat = risk(HOT_YESTERDAY, acclimatized=True).pieces[0]
    assert heat.topic == "heat" and heat.level == "high"
    perceived = round(kma_apparent_temperature_c(33.5, 60.0))
    assert heat.reason == f"Your site reached a perceived {perceived} °C at 14:00 yesterday."
    assert "Rest in the shade for 20 minutes every 120 minutes of work." in heat.advice
    assert any("every 15 to 20 minutes" in line for line in heat.advice)
    assert not any("Heavy work stops" in line for line in heat.advice)
    assert [g.slug for g in heat.guides] == ["heat"]


def test_heat_wave_warning_level_stops_heavy_work_in_the_afternoon():
    heat = risk(hours_at(0, {9: (36.0, 55.0)}), acclimatized=True).pieces[0]
    assert heat.level == "very_high"
    assert heat.reason.endswith("at 09:00 today.")
    assert "Rest in the shade for 15 minutes every 60 minutes of work." in heat.advice
    assert "Heavy work stops from 14:00 to 17:00." in heat.advice


def test_an_unknown_acclimatization_raises_the_heat_level_and_says_why():
    known = risk(HOT_YESTERDAY, acclimatized=True).pieces[0]
    unknown = risk(HOT_YESTERDAY, acclimatized=None).pieces[0]
    not_yet = risk(HOT_YESTERDAY, acclimatized=False).pieces[0]
    assert (known.level, unknown.level, not_yet.level) == ("high", "very_high", "very_high")
    assert any("may not be used to the heat" in line for line in unknown.advice)
    assert any("is not used to the heat" in line for line in not_yet.advice)
    assert not any("used to the heat" in line for line in known.advice)


def test_a_cool_site_is_low_risk_whoever_the_worker_is():
    cool = hours_at(-1, {14: (24.0, 50.0)}) + hours_at(0, {9: (22.0, 50.0)})
    for acclimatized in (True, False, None):
        result = risk(cool, acclimatized=acclimatized)
        assert result.level == "low"
        assert result.pieces[0].reason == "Your site reached a perceived 24 °C at 14:00 yesterday."
        assert not any("Rest in the shade" in line for line in result.pieces[0].advice)


def test_no_ambient_data_makes_the_heat_risk_unknown_not_low():
    result = risk([], acclimatized=True)
    assert result.level == "unknown"
    assert result.pieces[0].reason == "No air temperature has reached us from your site since yesterday."


def test_readings_from_two_days_ago_and_from_the_future_do_not_count():
    old = hours_at(-2, {14: (38.0, 60.0)})
    later_today = hours_at(0, {15: (38.0, 60.0)})  # after NOW (10:00)
    assert risk(old + later_today).level == "unknown"


def test_a_recent_alert_is_a_piece_linked_to_its_guide():
    alerts = [
        AlertFact(kind="hypoxemia", opened_at=NOW - timedelta(hours=2), resolved=False),
        AlertFact(kind="fever", opened_at=NOW - timedelta(hours=30), resolved=False),  # too old
    ]
    result = risk(HOT_YESTERDAY, acclimatized=True, alerts=alerts)
    alert_pieces = [p for p in result.pieces if p.topic == "alert"]
    assert len(alert_pieces) == 1
    assert alert_pieces[0].reason == "You have an open alert (Low blood oxygen) since 08:00."
    assert [g.slug for g in alert_pieces[0].guides] == ["low-oxygen"]


def test_a_resolved_alert_is_told_as_resolved_and_low():
    alerts = [AlertFact(kind="heat_strain", opened_at=NOW - timedelta(hours=1), resolved=True)]
    piece = next(p for p in risk(alerts=alerts).pieces if p.topic == "alert")
    assert piece.level == "low" and "it is resolved" in piece.reason


def test_a_checkin_with_symptoms_names_them_and_links_the_fever_guide():
    checkin = CheckInFact(day=NOW.date(), temperature=38.1, symptoms=("cough", "sore_throat"))
    piece = next(p for p in risk(checkin=checkin).pieces if p.topic == "checkin")
    assert piece.level == "high"
    assert piece.reason == "Your check-in today reported: a temperature of 38.1 °C, cough, sore throat."
    assert [g.slug for g in piece.guides] == ["fever"]


def test_a_checkin_without_symptoms_is_low_and_an_old_one_says_nothing():
    fine = CheckInFact(day=NOW.date() - timedelta(days=1), temperature=36.5, symptoms=())
    piece = next(p for p in risk(checkin=fine).pieces if p.topic == "checkin")
    assert piece.level == "low" and piece.reason == "Your check-in yesterday reported no symptoms."
    old = CheckInFact(day=date(2026, 7, 18), temperature=39.0, symptoms=("fever",))
    assert not [p for p in risk(checkin=old).pieces if p.topic == "checkin"]


# --- loading from the database, and the page ------------------------------------


def ambient(device, at, temp, humidity):
    for metric, value in (("ambient_temp", temp), ("ambient_humidity", humidity)):
        Reading.objects.create(
            device=device, worker=device.worker, metric=metric, value=value, measured_at=at, received_at=at
        )


def test_the_selector_reads_the_whole_sites_air_and_not_another_sites(alice_device, bob, charlie, site_b):
    from devices.services import device_provision

    device, _ = alice_device
    charlie_device, _ = device_provision(serial="B-1", model="Band 3", worker=charlie)
    now = timezone.now()
    an_hour_ago = now - timedelta(hours=1)
    ambient(device, an_hour_ago, 33.5, 60.0)
    ambient(charlie_device, an_hour_ago, 40.0, 60.0)  # another site's furnace
    # Bob (same site as alice, no device) sees his site's air.
    heat = today_risk_for(bob, now).pieces[0]
    assert heat.level in ("high", "very_high")
    assert f"perceived {round(kma_apparent_temperature_c(33.5, 60.0))} °C" in heat.reason


def test_today_page_shows_the_risk_with_its_reasons_and_guides(client, alice_device, alice):
    device, _ = alice_device
    ambient(device, timezone.now() - timedelta(minutes=30), 36.0, 55.0)
    alert_apply(
        worker_id=alice.pk,
        evaluation=Evaluation.active(
            "heat_strain", Severity.URGENT, "Heat strain: stop work and rest in the shade with water"
        ),
        now=timezone.now(),
    )
    CheckIn.objects.create(
        worker=alice, day=timezone.localdate(timezone.now(), SEOUL), cough=True, submitted_at=timezone.now()
    )
    client.force_login(alice.user)
    page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="risk"' in page and 'data-level="very_high"' in page
    assert "Your site reached a perceived" in page and "Heavy work stops from 14:00 to 17:00." in page
    assert "You have an open alert (Heat strain)" in page
    assert "Your check-in today reported: cough." in page
    assert reverse("portal:guide", args=["heat"]) in page and reverse("portal:guide", args=["fever"]) in page


def test_today_page_in_korean_has_the_risk_translated(client, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "오늘의 위험" in page


def test_the_sites_air_is_read_once_for_all_its_workers(alice_device, bob, django_assert_num_queries):
    from portal.risk import site_hourly_climate

    device, _ = alice_device
    since = timezone.now() - timedelta(hours=30)
    ambient(device, timezone.now() - timedelta(hours=1), 30.0, 50.0)
    first = site_hourly_climate(device.worker, since)
    with django_assert_num_queries(0):
        assert site_hourly_climate(bob, since) == first
