"""The portal's plain-words status from the worker's open alerts."""

from __future__ import annotations

import pytest
from django.utils import translation

from portal.status import ADVICE_BY_KIND, ALL_NORMAL, MONITORING_OFF, status_for, status_table


@pytest.mark.parametrize(
    ("alerts", "tone", "text"),
    [
        ([], "ok", ALL_NORMAL),
        ([("rest_overdue", "info")], "info", "Take a break in the shade"),
        ([("heat_strain", "warning")], "caution", "Stop work and rest in the shade with water"),
        ([("low_battery", "info"), ("heat_strain", "urgent")], "danger", "Stop work and rest in the shade with water"),
        # Same severity: a person in danger speaks before a device.
        ([("signal_lost", "warning"), ("fever", "warning")], "caution", ADVICE_BY_KIND["fever"]),
        ([("fall", "critical"), ("sos", "critical")], "danger", ADVICE_BY_KIND["sos"]),
        ([("hypoxemia", "urgent"), ("sos", "critical")], "danger", ADVICE_BY_KIND["sos"]),
        ([("something_new", "warning")], "caution", "Please see the clinic"),
    ],
)
def test_status_for_open_alerts(alerts, tone, text):
    status = status_for(alerts)
    assert (status.tone, status.text) == (tone, text)


def test_without_consent_monitoring_is_off_whatever_is_open():
    status = status_for([("sos", "critical")], monitoring=False)
    assert (status.tone, status.text) == ("off", MONITORING_OFF)


def test_unknown_severities_are_ignored():
    assert status_for([("fever", "bogus")]).text == ALL_NORMAL


def test_the_scripts_table_has_every_kind_in_the_same_order():
    with translation.override("en"):
        table = status_table()
    assert table["order"] == list(ADVICE_BY_KIND)
    assert table["advice"]["rest_overdue"] == "Take a break in the shade"
    assert table["ok"] == "All normal"
    assert table["rank"]["critical"] > table["rank"]["info"]
