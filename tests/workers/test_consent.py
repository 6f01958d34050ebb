"""Consent to monitoring: versioned texts, an append-only history of
decisions, the current state, and what a withdrawal tells the devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management.color import no_style
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from devices.services import device_provision
from healthhub.live import device_group
from tests.factories import WorkerFactory
from workers.models import Consent, ConsentDecision, ConsentText, Worker
from workers.selectors import consent_history, worker_has_consent, workers_with_consent
from workers.services import ConsentError, consent_grant, consent_withdraw

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


@pytest.fixture
def newcomer(alice):
    """A worker of plant A who has not decided anything yet."""
    return WorkerFactory(user__username="newcomer", department=alice.department)


def test_the_data_migrations_published_version_1_in_korean_english_and_vietnamese(db):
    text = ConsentText.objects.get(version=1)
    assert sorted(text.texts) == ["en", "ko", "vi"]
    for topic in ("What is collected", "Why", "Who can see it", "For how long"):
        assert topic in text.texts["en"]
    for topic in ("수집하는 정보", "수집 목적", "볼 수 있는 사람", "보관 기간"):
        assert topic in text.texts["ko"]
    for topic in ("Những gì được thu thập", "Vì sao", "Ai có thể xem", "Trong bao lâu"):
        assert topic in text.texts["vi"]
    # The same promises in every language: 90 days, 3 years, groups of five.
    for language in ("en", "ko", "vi"):
        assert "90" in text.texts[language] and "3" in text.texts[language]


def test_a_text_is_shown_in_the_readers_language_else_the_default(db):
    text = ConsentText.objects.get(version=1)
    assert text.language_for("vi") == "vi"
    assert text.language_for("vi-vn") == "vi"
    assert text.language_for("en-us") == "en"
    # A language the version is not published in: the site default (Korean).
    assert text.language_for("th") == "ko"
    assert text.language_for(None) == "ko"
    assert text.text_for("vi").startswith("Những gì được thu thập")


def test_a_consent_records_the_language_it_was_read_in(newcomer, consent_text):
    assert consent_grant(worker=newcomer, language="vi", now=T0).language == "vi"
    consent_withdraw(worker=newcomer, now=T0 + timedelta(hours=1))
    # Read in a language the text is not published in: recorded as the
    # language actually shown.
    assert consent_grant(worker=newcomer, language="th", now=T0 + timedelta(hours=2)).language == "ko"


def test_a_consent_without_a_language_given_records_the_workers_own(newcomer, consent_text):
    newcomer.language = "vi"
    newcomer.save()
    assert consent_grant(worker=newcomer, now=T0).language == "vi"


def test_a_worker_without_any_record_has_not_consented(newcomer):
    assert worker_has_consent(newcomer.pk) is False
    assert newcomer not in workers_with_consent()


def test_the_cast_has_consented(alice, bob, charlie):
    assert all(worker_has_consent(w.pk) for w in (alice, bob, charlie))


def test_grant_then_withdraw_then_grant_keeps_the_whole_history(newcomer, consent_text):
    consent_grant(worker=newcomer, now=T0)
    consent_withdraw(worker=newcomer, now=T0 + timedelta(hours=1))
    assert worker_has_consent(newcomer.pk) is False
    consent_grant(worker=newcomer, now=T0 + timedelta(hours=2))
    assert worker_has_consent(newcomer.pk) is True
    history = [(c.decision, c.at, c.text.version) for c in consent_history(newcomer)]
    assert history == [
        ("granted", T0 + timedelta(hours=2), consent_text.version),
        ("withdrawn", T0 + timedelta(hours=1), consent_text.version),
        ("granted", T0, consent_text.version),
    ]


def test_agreeing_twice_to_the_same_version_records_one_decision(newcomer, consent_text):
    first = consent_grant(worker=newcomer, now=T0)
    again = consent_grant(worker=newcomer, now=T0 + timedelta(minutes=1))
    assert again == first
    assert Consent.objects.filter(worker=newcomer).count() == 1


def test_withdrawing_without_consent_records_nothing(newcomer, consent_text):
    assert consent_withdraw(worker=newcomer) is None
    assert Consent.objects.filter(worker=newcomer).count() == 0


def test_a_new_version_needs_a_new_agreement_and_keeps_the_old_one(newcomer, consent_text):
    consent_grant(worker=newcomer, now=T0)
    v2 = ConsentText.objects.create(
        version=consent_text.version + 1, texts={"ko": "제2판", "en": "Version 2"}, published_at=T0 + timedelta(days=1)
    )
    consent_grant(worker=newcomer, now=T0 + timedelta(days=2))
    assert [c.text for c in consent_history(newcomer)] == [v2, consent_text]
    # Withdrawal is recorded under the version last agreed to.
    assert consent_withdraw(worker=newcomer, now=T0 + timedelta(days=3)).text == v2


def empty_consent_tables() -> None:
    """As a fresh database: TRUNCATE on PostgreSQL, where the append-only
    trigger refuses row deletes (workers migration 0008)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # TRUNCATE waits for no deferred foreign-key check
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    sql = connection.ops.sql_flush(no_style(), [Consent._meta.db_table, ConsentText._meta.db_table])
    connection.ops.execute_sql_flush(sql)


def test_decisions_and_texts_cannot_be_changed_or_deleted(alice, consent_text):
    decision = Consent.objects.get(worker=alice)
    decision.decision = ConsentDecision.WITHDRAWN
    with pytest.raises(ValueError):
        decision.save()
    with pytest.raises(ValueError):
        decision.delete()
    consent_text.texts = {"en": "something else"}
    with pytest.raises(ValueError):
        consent_text.save()
    with pytest.raises(ValueError):
        consent_text.delete()
    assert Consent.objects.get(worker=alice).decision == ConsentDecision.GRANTED


def test_granting_without_a_published_text_fails(newcomer):
    # Texts cannot be deleted one by one: empty the table as a fresh database would be.
    empty_consent_tables()
    with pytest.raises(ConsentError):
        consent_grant(worker=newcomer)


def test_workers_with_consent_follows_each_workers_latest_decision(alice, bob, charlie):
    consent_withdraw(worker=bob)
    assert set(workers_with_consent()) == {alice, charlie}
    assert list(workers_with_consent(Worker.objects.filter(site=alice.site))) == [alice]


def test_withdrawal_tells_each_of_the_workers_devices_after_commit(alice, django_capture_on_commit_callbacks):
    devices = [device_provision(serial=f"A-{n}", worker=alice)[0] for n in (1, 2)]
    layer = get_channel_layer()
    channels = []
    for device in devices:
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(device_group(device.pk), channel)
        channels.append(channel)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        consent_withdraw(worker=alice)
    assert len(callbacks) == 1
    for channel in channels:
        event = async_to_sync(layer.receive)(channel)
        assert isinstance(event.pop("sent_at"), float)  # stamped when sent (healthhub.live)
        assert event == {"type": "device.consent_withdrawn"}


def test_nothing_is_sent_before_the_withdrawal_commits(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        consent_withdraw(worker=alice)
    assert len(callbacks) == 1  # waiting for the commit


# --- the portal's consent form ---------------------------------------------------


def test_worker_withdraws_and_agrees_again_in_the_portal(client, alice, consent_text):
    client.force_login(alice.user)
    response = client.post(reverse("portal:consent"), {"decision": "withdraw"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:privacy")
    assert worker_has_consent(alice.pk) is False
    client.post(reverse("portal:consent"), {"decision": "grant", "version": consent_text.version})
    assert worker_has_consent(alice.pk) is True
    decisions = list(Consent.objects.filter(worker=alice).order_by("at", "id").values_list("decision", "recorded_by"))
    assert decisions == [("granted", None), ("withdrawn", alice.user.pk), ("granted", alice.user.pk)]


def test_agreeing_to_a_text_one_was_not_shown_is_refused(client, newcomer, consent_text):
    client.force_login(newcomer.user)
    client.post(reverse("portal:consent"), {"decision": "grant", "version": consent_text.version + 7})
    client.post(reverse("portal:consent"), {"decision": "grant"})
    assert worker_has_consent(newcomer.pk) is False


@pytest.mark.parametrize("who", ["clara", "hana", "adam"])
def test_staff_cannot_decide_for_anyone(client, alice, clara, hana, adam, who):
    client.force_login({"clara": clara, "hana": hana, "adam": adam}[who])
    response = client.post(reverse("portal:consent"), {"decision": "withdraw"})
    assert response.status_code == 302 and response["Location"] == reverse("desk:home")
    assert worker_has_consent(alice.pk) is True


def test_consent_form_refuses_get(client, alice):
    client.force_login(alice.user)
    assert client.get(reverse("portal:consent")).status_code == 405


def test_the_portal_shows_the_decision_history(client, alice):
    consent_withdraw(worker=alice, now=timezone.now())
    client.force_login(alice.user)
    page = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Withdrawn" in page and "Granted" in page


def test_an_emptied_database_gets_the_initial_text_again(db):
    from workers.consent import INITIAL_TEXTS, INITIAL_VERSION
    from workers.services import consent_text_ensure

    empty_consent_tables()
    text = consent_text_ensure()
    assert (text.version, text.texts) == (INITIAL_VERSION, INITIAL_TEXTS)
    assert consent_text_ensure() == text
