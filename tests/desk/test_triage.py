"""The triage queue (/desk/) and its live rows: who may see it, what it
lists, in which order, with which filters."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import NoReverseMatch
from django.utils import timezone

from alerts.models import Alert, AlertStatus
from tests.factories import DepartmentFactory, WorkerFactory, staff
from workers.models import AccessLog
from workers.names import person_name


def make_alert(worker, kind="sos", severity="critical", minutes_ago=1, status=AlertStatus.OPEN, **fields) -> Alert:
    opened = timezone.now() - timedelta(minutes=minutes_ago)
    if status == AlertStatus.RESOLVED:
        fields.setdefault("resolved_at", timezone.now())
    return Alert.objects.create(
        worker=worker,
        kind=kind,
        severity=severity,
        status=status,
        message="SOS pressed",
        opened_at=opened,
        updated_at=opened,
        **fields,
    )


def row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', page)]


@pytest.fixture
def dave(alice):
    """A worker of plant A in another department than alice's."""
    return WorkerFactory(user__username="dave", department=DepartmentFactory(site=alice.site, name="Paint"))


@pytest.fixture
def alice_sos(alice):
    return make_alert(alice)


def test_anonymous_is_sent_to_login(client, alice_sos):
    for url in ("/desk/", f"/desk/alerts/{alice_sos.pk}/row/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", ["alice", "bob", "charlie", "hana", "adam"])
def test_the_queue_is_404_for_everyone_but_clinicians(client, alice_sos, alice, bob, charlie, hana, adam, who):
    user = {"alice": alice.user, "bob": bob.user, "charlie": charlie.user, "hana": hana, "adam": adam}[who]
    client.force_login(user)
    assert client.get("/desk/").status_code == 404
    assert client.get(f"/desk/alerts/{alice_sos.pk}/row/").status_code == 404
    assert AccessLog.objects.count() == 0


def test_clinician_sees_the_alerts_of_their_site_only(client, alice_sos, charlie, clara, carl):
    charlies = make_alert(charlie)
    client.force_login(clara)
    assert row_ids(client.get("/desk/").content.decode()) == [alice_sos.pk]
    client.force_login(carl)
    assert row_ids(client.get("/desk/").content.decode()) == [charlies.pk]


def test_another_sites_clinician_cannot_fetch_the_row(client, alice_sos, carl):
    client.force_login(carl)
    response = client.get(f"/desk/alerts/{alice_sos.pk}/row/")
    assert response.status_code == 404
    assert b"SOS" not in response.content
    assert AccessLog.objects.count() == 0


def test_queue_is_sorted_by_severity_then_oldest_first(client, alice, bob, dave, clara):
    old_warning = make_alert(alice, kind="heat_strain", severity="warning", minutes_ago=90)
    new_critical = make_alert(alice, kind="sos", severity="critical", minutes_ago=2)
    old_critical = make_alert(bob, kind="fall", severity="critical", minutes_ago=30)
    urgent = make_alert(dave, kind="hypoxemia", severity="urgent", minutes_ago=5)
    info = make_alert(bob, kind="low_battery", severity="info", minutes_ago=120)
    client.force_login(clara)
    page = client.get("/desk/").content.decode()
    assert row_ids(page) == [old_critical.pk, new_critical.pk, urgent.pk, old_warning.pk, info.pk]


def test_resolved_alerts_leave_the_queue_and_are_listed_on_request(client, alice, bob, clara):
    open_alert = make_alert(alice)
    earlier = make_alert(bob, kind="fever", severity="warning", status=AlertStatus.RESOLVED)
    Alert.objects.filter(pk=earlier.pk).update(resolved_at=timezone.now() - timedelta(hours=1))
    latest = make_alert(bob, kind="fall", status=AlertStatus.RESOLVED)
    client.force_login(clara)
    assert row_ids(client.get("/desk/").content.decode()) == [open_alert.pk]
    # Resolved ones are history: the newest resolution first.
    assert row_ids(client.get("/desk/?status=resolved").content.decode()) == [latest.pk, earlier.pk]


def test_status_filter_separates_acknowledged_from_waiting(client, alice, bob, clara):
    waiting = make_alert(alice)
    seen = make_alert(bob, status=AlertStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=clara)
    client.force_login(clara)
    assert set(row_ids(client.get("/desk/").content.decode())) == {waiting.pk, seen.pk}
    assert row_ids(client.get("/desk/?status=open").content.decode()) == [waiting.pk]
    assert row_ids(client.get("/desk/?status=acknowledged").content.decode()) == [seen.pk]


def test_department_and_kind_filters(client, alice, bob, dave, clara):
    alice_sos = make_alert(alice, kind="sos")
    bob_fever = make_alert(bob, kind="fever", severity="warning")
    dave_sos = make_alert(dave, kind="sos")
    client.force_login(clara)
    assembly = client.get(f"/desk/?department={alice.department_id}").content.decode()
    assert set(row_ids(assembly)) == {alice_sos.pk, bob_fever.pk}
    assert set(row_ids(client.get("/desk/?kind=sos").content.decode())) == {alice_sos.pk, dave_sos.pk}
    both = client.get(f"/desk/?kind=sos&department={dave.department_id}").content.decode()
    assert row_ids(both) == [dave_sos.pk]


def test_site_filter_for_a_clinician_of_two_sites(client, alice, charlie, site_a, site_b):
    dana = staff("dana", "clinician", site_a, site_b)
    at_a, at_b = make_alert(alice), make_alert(charlie)
    client.force_login(dana)
    assert set(row_ids(client.get("/desk/").content.decode())) == {at_a.pk, at_b.pk}
    assert row_ids(client.get(f"/desk/?site={site_b.pk}").content.decode()) == [at_b.pk]


def test_a_filter_naming_another_clinicians_site_shows_nothing_of_it(client, alice_sos, charlie, carl, site_a):
    charlies = make_alert(charlie)
    client.force_login(carl)
    page = client.get(f"/desk/?site={site_a.pk}&department={alice_sos.worker.department_id}").content.decode()
    assert row_ids(page) == [charlies.pk]


def test_listing_writes_the_access_log_of_each_worker_listed(client, alice, bob, charlie, clara):
    make_alert(alice)
    make_alert(bob, kind="fever", severity="warning")
    make_alert(charlie)
    client.force_login(clara)
    client.get("/desk/")
    logged = set(AccessLog.objects.values_list("accessor__username", "worker__user__username", "what"))
    assert logged == {("clara", "alice", "alerts"), ("clara", "bob", "alerts")}


def test_row_of_an_alert_in_the_queue(client, alice_sos, clara):
    client.force_login(clara)
    response = client.get(f"/desk/alerts/{alice_sos.pk}/row/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    row = response.content.decode()
    assert row_ids(row) == [alice_sos.pk]
    assert 'data-action="acknowledge"' in row and 'data-action="resolve"' in row
    assert 'data-action="escalate"' in row
    assert "SOS pressed" in row
    assert AccessLog.objects.filter(accessor=clara, worker=alice_sos.worker, what="alerts").count() == 1


def test_row_of_an_alert_that_left_the_queue_is_empty(client, alice_sos, clara):
    Alert.objects.filter(pk=alice_sos.pk).update(status=AlertStatus.RESOLVED, resolved_at=timezone.now())
    client.force_login(clara)
    assert client.get(f"/desk/alerts/{alice_sos.pk}/row/").status_code == 204
    # ...but it is a row of the resolved list.
    assert client.get(f"/desk/alerts/{alice_sos.pk}/row/?status=resolved").status_code == 200


def test_row_honours_the_pages_filters(client, alice_sos, clara):
    client.force_login(clara)
    assert client.get(f"/desk/alerts/{alice_sos.pk}/row/?kind=fever").status_code == 204
    assert client.get(f"/desk/alerts/{alice_sos.pk}/row/?kind=sos").status_code == 200


def test_acknowledged_alert_offers_no_acknowledge_and_says_who(client, alice, clara):
    alert = make_alert(alice, status=AlertStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=clara)
    client.force_login(clara)
    row = client.get(f"/desk/alerts/{alert.pk}/row/").content.decode()
    assert 'data-action="acknowledge"' not in row and 'data-action="resolve"' in row
    assert person_name(clara) in row


def test_unacknowledged_critical_is_flagged_for_the_visible_cue(client, alice, bob, clara):
    make_alert(alice, severity="critical")
    make_alert(bob, kind="fever", severity="warning")
    client.force_login(clara)
    page = client.get("/desk/").content.decode()
    assert page.count(" waiting") == 1
    assert re.search(r'id="critical-count">1<', page)
    assert 'id="sound-toggle"' in page


def test_no_critical_waiting_hides_the_banner(client, alice, clara):
    make_alert(alice, kind="fever", severity="warning")
    client.force_login(clara)
    page = client.get("/desk/").content.decode()
    assert re.search(r'id="critical-banner"[^>]*hidden', page)


def test_rows_fragment_for_reloading_after_a_reconnection(client, alice_sos, clara):
    client.force_login(clara)
    response = client.get("/desk/?fragment=rows")
    body = response.content.decode()
    assert row_ids(body) == [alice_sos.pk]
    assert "<html" not in body


def test_start_consultation_is_offered_when_consultations_can_start_from_alerts(client, alice_sos, clara):
    from desk.triage import consultation_url

    if consultation_url(alice_sos.pk) is None:
        pytest.skip("the consultations app has no from-alert view in this tree")
    client.force_login(clara)
    page = client.get("/desk/").content.decode()
    assert f'action="{consultation_url(alice_sos.pk)}"' in page


def test_no_consultation_button_without_the_consultations_view(client, alice_sos, clara, monkeypatch):
    import desk.triage

    real_reverse = desk.triage.reverse

    def reverse_without_consultations(name, *args, **kwargs):
        if name.startswith("consultations:"):
            raise NoReverseMatch(name)
        return real_reverse(name, *args, **kwargs)

    monkeypatch.setattr(desk.triage, "reverse", reverse_without_consultations)
    client.force_login(clara)
    page = client.get("/desk/").content.decode()
    assert row_ids(page) == [alice_sos.pk]
    assert "data-consult" not in page


def test_korean_queue_translates_the_alert(client, alice_sos, clara):
    client.force_login(clara)
    page = client.get("/desk/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "SOS 호출" in page  # in locale/ko/LC_MESSAGES/django.po
    assert "위급" in page  # "Critical"


def test_times_are_shown_in_the_sites_time_zone(client, alice, clara):
    from datetime import UTC, datetime

    alert = make_alert(alice)
    Alert.objects.filter(pk=alert.pk).update(opened_at=datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    client.force_login(clara)
    row = client.get(f"/desk/alerts/{alert.pk}/row/").content.decode()
    assert "11-25 08:30" in row  # Asia/Seoul, UTC+9


def test_clinicians_have_desk_links_in_the_header(client, clara, hana, site_a):
    client.force_login(clara)
    page = client.get("/desk/").content.decode()
    assert 'href="/desk/"' in page and f'href="/desk/sites/{site_a.pk}/"' in page
    client.force_login(hana)
    assert 'href="/desk/"' not in client.get("/").content.decode()
