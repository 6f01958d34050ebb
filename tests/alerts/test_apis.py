"""The alerts API: who sees which alerts, who may act on them, filters."""

from __future__ import annotations

import pytest
from django.utils import timezone

from alerts import services
from alerts.models import Alert
from alerts.rules.base import Evaluation, Severity
from tests.conftest import api_as
from workers.models import AccessLog

pytestmark = pytest.mark.django_db


def raise_alert(worker, kind="hypoxemia", severity=Severity.WARNING):
    return services.alert_apply(
        worker_id=worker.pk, evaluation=Evaluation.active(kind, severity, "msg", spo2=90), now=timezone.now()
    )


@pytest.fixture
def alerts(alice, bob, charlie):
    return {
        "alice": raise_alert(alice),
        "alice_sos": raise_alert(alice, "sos", Severity.CRITICAL),
        "bob": raise_alert(bob, "heat_strain"),
        "charlie": raise_alert(charlie),
    }


def ids(response):
    assert response.status_code == 200, response.content
    return {a["id"] for a in response.json()}


def test_clinician_sees_their_sites_alerts_most_severe_first(alerts, clara):
    response = api_as(clara).get("/api/v1/alerts/")
    assert ids(response) == {alerts["alice"].pk, alerts["alice_sos"].pk, alerts["bob"].pk}
    assert response.json()[0]["severity"] == "critical"


def test_worker_sees_only_their_own(alerts, alice):
    assert ids(api_as(alice.user).get("/api/v1/alerts/")) == {alerts["alice"].pk, alerts["alice_sos"].pk}


@pytest.mark.parametrize("who", ["hana", "adam", "carl_for_site_a"])
def test_hr_admin_and_other_site_clinicians_see_nothing_of_site_a(alerts, hana, adam, carl, who):
    user = {"hana": hana, "adam": adam, "carl_for_site_a": carl}[who]
    seen = ids(api_as(user).get("/api/v1/alerts/"))
    assert seen.isdisjoint({alerts["alice"].pk, alerts["alice_sos"].pk, alerts["bob"].pk})
    response = api_as(user).get(f"/api/v1/alerts/{alerts['alice'].pk}/")
    assert response.status_code == 404


def test_anonymous_gets_nothing(alerts):
    assert api_as(None).get("/api/v1/alerts/").status_code in (401, 403)


def test_filters(alerts, clara, alice):
    assert ids(api_as(clara).get("/api/v1/alerts/?kind=sos")) == {alerts["alice_sos"].pk}
    assert ids(api_as(clara).get("/api/v1/alerts/?severity=warning")) == {alerts["alice"].pk, alerts["bob"].pk}
    assert ids(api_as(clara).get(f"/api/v1/alerts/?worker={alice.pk}")) == {
        alerts["alice"].pk,
        alerts["alice_sos"].pk,
    }
    assert api_as(clara).get("/api/v1/alerts/?kind=nonsense").status_code == 400


def test_detail_has_evidence_and_history_and_is_logged(alerts, clara, alice):
    response = api_as(clara).get(f"/api/v1/alerts/{alerts['alice'].pk}/")
    body = response.json()
    assert body["evidence"] == {"spo2": 90}
    assert [e["action"] for e in body["events"]] == ["opened"]
    assert AccessLog.objects.filter(accessor=clara, worker=alice, what="alert").exists()


def test_clinician_acknowledges_and_resolves_with_a_note(alerts, clara):
    client = api_as(clara)
    pk = alerts["alice"].pk
    assert client.post(f"/api/v1/alerts/{pk}/acknowledge/").json()["status"] == "acknowledged"
    assert client.post(f"/api/v1/alerts/{pk}/acknowledge/").status_code == 409
    body = client.post(f"/api/v1/alerts/{pk}/resolve/", {"note": "fine after rest"}, format="json").json()
    assert body["status"] == "resolved"
    assert body["events"][-1]["detail"] == {"note": "fine after rest"}


def test_clinician_escalates_by_hand_once(alerts, clara):
    client = api_as(clara)
    pk = alerts["alice"].pk
    assert client.post(f"/api/v1/alerts/{pk}/escalate/").json()["escalated_at"] is not None
    assert client.post(f"/api/v1/alerts/{pk}/escalate/").status_code == 409


@pytest.mark.parametrize("who", ["alice", "hana", "carl"])
def test_others_cannot_act(alerts, alice, hana, carl, who):
    user = {"alice": alice.user, "hana": hana, "carl": carl}[who]
    response = api_as(user).post(f"/api/v1/alerts/{alerts['alice'].pk}/acknowledge/")
    assert response.status_code in (403, 404)
    assert Alert.objects.get(pk=alerts["alice"].pk).status == "open"


def test_unknown_action_is_404(alerts, clara):
    assert api_as(clara).post(f"/api/v1/alerts/{alerts['alice'].pk}/delete/").status_code == 404


def test_snooze_api(alice, charlie, clara):
    client = api_as(clara)
    body = {"kind": "hypoxemia", "severity": "warning", "minutes": 30, "reason": "known asthma"}
    assert client.post(f"/api/v1/workers/{alice.pk}/snoozes/", body, format="json").status_code == 201
    assert client.post(f"/api/v1/workers/{charlie.pk}/snoozes/", body, format="json").status_code == 404
    bad = client.post(f"/api/v1/workers/{alice.pk}/snoozes/", {**body, "minutes": 0}, format="json")
    assert bad.status_code == 400
    assert raise_alert(alice) is None  # snoozed
