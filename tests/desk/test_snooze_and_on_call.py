"""Snooze from the queue and the worker page (the service the API uses),
with the reason and the break-through rule shown; who is on call now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import services
from alerts.models import OnCall, Snooze
from alerts.rules.base import Evaluation, Severity
from tests.factories import staff
from workers.names import person_name

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def raise_alert(worker, kind="heat_strain", severity=Severity.WARNING):
    return services.alert_apply(
        worker_id=worker.pk, evaluation=Evaluation.active(kind, severity, "Heat strain"), now=timezone.now()
    )


def snooze(client, worker, **data):
    form = {"kind": "heat_strain", "severity": "warning", "minutes": "60", "reason": "acclimatising, lead informed"}
    return client.post(f"/desk/workers/{worker.pk}/snooze/", {**form, **data})


def test_the_queue_offers_a_snooze_and_shows_it_with_its_reason_and_rule(client, alice, clara):
    raise_alert(alice)
    client.force_login(clara)
    page = client.get("/desk/").content.decode()
    assert f'action="/desk/workers/{alice.pk}/snooze/"' in page and 'name="kind" value="heat_strain"' in page
    response = snooze(client, alice, next="/desk/?kind=heat_strain")
    assert response.status_code == 302 and response.url == "/desk/?kind=heat_strain"
    row = Snooze.objects.get()
    assert (row.worker, row.kind, row.severity, row.by) == (alice, "heat_strain", "warning", clara)
    assert timedelta(minutes=59) < row.until - timezone.now() <= timedelta(minutes=60)
    client.get("/")  # the flash message is consumed on the next page
    page = client.get("/desk/").content.decode()
    assert "acclimatising, lead informed" in page
    assert "A worse severity than Warning breaks through." in page


def test_the_snooze_is_the_apis_own_rule_a_worse_severity_breaks_through(client, alice, clara):
    client.force_login(clara)
    snooze(client, alice)
    assert raise_alert(alice) is None
    assert raise_alert(alice, severity=Severity.URGENT) is not None


def test_the_worker_page_lists_snoozes_and_takes_a_new_one(client, alice, clara):
    client.force_login(clara)
    snooze(client, alice, kind="rest_overdue", reason="on light duty today")
    page = client.get(f"/workers/{alice.pk}/").content.decode()
    assert "on light duty today" in page and 'id="snoozes"' in page
    assert f'action="/desk/workers/{alice.pk}/snooze/"' in page and 'name="kind"' in page


def test_snoozing_needs_a_reason_and_a_clinician_of_the_site(client, alice, carl, hana, clara):
    for user in (carl, hana, alice.user):
        client.force_login(user)
        assert snooze(client, alice).status_code == 404
    client.force_login(clara)
    snooze(client, alice, reason="")
    snooze(client, alice, minutes="99999")
    assert not Snooze.objects.exists()


def test_an_outside_next_is_not_followed(client, alice, clara):
    client.force_login(clara)
    assert snooze(client, alice, next="https://evil.example/").url == "/desk/"


def test_the_desk_shows_who_is_on_call_now(client, alice, clara):
    cleo = staff("cleo", "clinician", alice.site, first_name="Cleo", last_name="Park")
    client.force_login(clara)
    assert "Nobody is on call: escalations go to every clinician of the site." in client.get("/desk/").content.decode()
    now = timezone.now()
    OnCall.objects.create(
        site=alice.site, shift="night", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=11),
        primary=clara, backup=cleo,
    )  # fmt: skip
    page = client.get("/desk/").content.decode()
    assert f"On call at Plant A (Night shift): {person_name(clara)}, backup Cleo Park" in page
