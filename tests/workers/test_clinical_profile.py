"""What a clinician records on a worker for the alert rules: heat
acclimatization (unknown until recorded) and SpO2 scale 2."""

from __future__ import annotations

import pytest
from django.utils import timezone

from alerts.selectors import profile_load
from tests.conftest import api_as
from workers.models import AccessLog, Worker

pytestmark = pytest.mark.django_db

URL = "/api/v1/workers/{}/clinical-profile/"


def test_acclimatization_is_unknown_until_recorded(alice):
    assert Worker.objects.get(pk=alice.pk).acclimatized is None
    assert api_as(alice.user).get(URL.format(alice.pk)).json() == {
        "acclimatized": None,
        "hypercapnic_respiratory_failure": False,
    }


def test_the_sites_clinician_records_both_and_the_rules_see_them(alice, clara):
    client = api_as(clara)
    response = client.patch(URL.format(alice.pk), {"acclimatized": False}, format="json")
    assert response.status_code == 200
    response = client.patch(URL.format(alice.pk), {"hypercapnic_respiratory_failure": True}, format="json")
    assert response.json() == {"acclimatized": False, "hypercapnic_respiratory_failure": True}
    alice.refresh_from_db()
    profile = profile_load(alice, timezone.now())
    assert profile.acclimatized is False and profile.spo2_scale2 is True
    assert AccessLog.objects.filter(worker=alice, accessor=clara, what="clinical profile").exists()
    # and back to unknown
    client.patch(URL.format(alice.pk), {"acclimatized": None}, format="json")
    alice.refresh_from_db()
    assert alice.acclimatized is None


def test_the_worker_may_read_but_not_record(alice):
    response = api_as(alice.user).patch(URL.format(alice.pk), {"acclimatized": True}, format="json")
    assert response.status_code == 403
    assert Worker.objects.get(pk=alice.pk).acclimatized is None


@pytest.mark.parametrize("who", ["bob", "carl", "hana", "adam"])
def test_nobody_else_reads_or_records(request, alice, who):
    user = request.getfixturevalue(who)
    client = api_as(user.user if hasattr(user, "user") else user)
    assert client.get(URL.format(alice.pk)).status_code in (403, 404)
    assert client.patch(URL.format(alice.pk), {"acclimatized": True}, format="json").status_code in (403, 404)
    assert Worker.objects.get(pk=alice.pk).acclimatized is None


@pytest.mark.parametrize("body", [{"acclimatized": "maybe"}, {"hypercapnic_respiratory_failure": None}])
def test_bad_values_are_refused(alice, clara, body):
    response = api_as(clara).patch(URL.format(alice.pk), body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == set(body)
