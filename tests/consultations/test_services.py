"""The consultation services: states, who may do what, what is stored and
who is told."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from consultations import services
from consultations.models import Clearance, Consultation, Message, Note, Recommendation
from tests.consultations.conftest import NOTE_TEXT

pytestmark = pytest.mark.django_db


def groups(sent) -> list[str]:
    return [group for group, _ in sent]


def test_worker_request_waits_for_a_clinician_and_tells_the_site_lists(alice, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        consultation = services.consultation_request(worker=alice, reason=" Dizzy ", urgency="urgent")
    consultation.refresh_from_db()
    assert (consultation.status, consultation.clinician, consultation.reason) == ("requested", None, "Dizzy")
    assert consultation.urgency_rank == 3
    assert set(groups(sent)) == {
        f"consultation.{consultation.pk}",
        f"site.{alice.site_id}.consultations",
        f"worker.{alice.pk}.consultations",
    }
    assert all(event["type"] == "consultation.changed" and event["change"] == "requested" for _, event in sent)


@pytest.mark.parametrize(("reason", "urgency"), [("  ", "routine"), ("Cough", "whenever")])
def test_request_needs_a_reason_and_a_known_urgency(alice, reason, urgency):
    with pytest.raises(services.ConsultationError):
        services.consultation_request(worker=alice, reason=reason, urgency=urgency)
    assert not Consultation.objects.exists()


def test_clinician_of_the_site_takes_a_requested_consultation(requested, clara):
    consultation = services.consultation_take(consultation_id=requested.pk, clinician=clara)
    assert (consultation.status, consultation.clinician) == ("active", clara)
    assert consultation.started_at is not None
    # Taking one's own again changes nothing.
    again = services.consultation_take(consultation_id=requested.pk, clinician=clara)
    assert again.started_at == consultation.started_at


def test_a_taken_consultation_cannot_be_taken_by_another_clinician(active, site_a):
    from tests.factories import staff

    colleague = staff("clio", "clinician", site_a)
    with pytest.raises(services.ConsultationError):
        services.consultation_take(consultation_id=active.pk, clinician=colleague)
    active.refresh_from_db()
    assert active.clinician.username == "clara"


@pytest.mark.parametrize("who", ["carl", "hana", "adam", "bob", "alice"])
def test_nobody_but_a_clinician_of_the_site_takes_one(requested, carl, hana, adam, bob, alice, who):
    user = {"carl": carl, "hana": hana, "adam": adam, "bob": bob.user, "alice": alice.user}[who]
    with pytest.raises(services.ConsultationError):
        services.consultation_take(consultation_id=requested.pk, clinician=user)
    requested.refresh_from_db()
    assert requested.status == "requested"


def test_starting_from_an_alert_creates_one_active_consultation_and_reuses_it(alice_alert, clara):
    consultation, created = services.consultation_start_from_alert(alert_id=alice_alert.pk, clinician=clara)
    assert created
    assert (consultation.status, consultation.clinician, consultation.alert) == ("active", clara, alice_alert)
    assert consultation.worker == alice_alert.worker
    assert consultation.urgency == "urgent"  # a critical alert
    assert consultation.reason
    again, created = services.consultation_start_from_alert(alert_id=alice_alert.pk, clinician=clara)
    assert not created and again.pk == consultation.pk
    assert Consultation.objects.count() == 1


@pytest.mark.parametrize("who", ["carl", "hana"])
def test_starting_from_an_alert_of_another_site_is_refused(alice_alert, carl, hana, who):
    with pytest.raises(services.ConsultationError):
        services.consultation_start_from_alert(alert_id=alice_alert.pk, clinician={"carl": carl, "hana": hana}[who])
    assert not Consultation.objects.exists()


def test_a_message_is_stored_and_sent_to_everyone_in_the_consultation(
    active, alice, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message, created = services.message_send(consultation_id=active.pk, sender=alice.user, body="Still dizzy")
    assert created and message.from_worker and message.body == "Still dizzy"
    assert groups(sent) == [f"consultation.{active.pk}"]
    event = sent[0][1]
    assert event["type"] == "consultation.message"
    assert event["message"]["from"] == "worker" and event["message"]["body"] == "Still dizzy"


def test_a_clinician_writing_in_a_requested_consultation_takes_it(requested, clara):
    message, _ = services.message_send(consultation_id=requested.pk, sender=clara, body="Hello, I am here")
    requested.refresh_from_db()
    assert not message.from_worker
    assert (requested.status, requested.clinician) == ("active", clara)


def test_a_message_sent_again_with_its_ref_is_stored_once(active, alice):
    first, created = services.message_send(consultation_id=active.pk, sender=alice.user, body="hi", client_ref="r1")
    second, created_again = services.message_send(
        consultation_id=active.pk, sender=alice.user, body="hi", client_ref="r1"
    )
    assert created and not created_again and first.pk == second.pk
    assert Message.objects.count() == 1


@pytest.mark.parametrize("who", ["bob", "carl", "hana", "adam"])
def test_outsiders_cannot_write_in_the_chat(active, bob, carl, hana, adam, who):
    user = {"bob": bob.user, "carl": carl, "hana": hana, "adam": adam}[who]
    with pytest.raises(services.ConsultationError):
        services.message_send(consultation_id=active.pk, sender=user, body="hello")
    assert not Message.objects.exists()


def test_an_empty_or_too_long_message_is_refused(active, alice):
    for body in ("   ", "x" * 4001):
        with pytest.raises(services.ConsultationError):
            services.message_send(consultation_id=active.pk, sender=alice.user, body=body)
    assert not Message.objects.exists()


def test_marks_apply_to_the_other_sides_messages_only(active, alice, clara, sent, django_capture_on_commit_callbacks):
    mine, _ = services.message_send(consultation_id=active.pk, sender=alice.user, body="mine")
    first, _ = services.message_send(consultation_id=active.pk, sender=clara, body="first")
    second, _ = services.message_send(consultation_id=active.pk, sender=clara, body="second")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.messages_mark_delivered(consultation_id=active.pk, reader=alice.user, up_to=first.pk) == [
            first.pk
        ]
    assert sent[-1][0] == f"consultation.{active.pk}"
    assert [m["id"] for m in sent[-1][1]["marks"]] == [first.pk]
    assert services.messages_mark_read(consultation_id=active.pk, reader=alice.user) == [first.pk, second.pk]
    # Nothing left to mark: repeating is harmless.
    assert services.messages_mark_read(consultation_id=active.pk, reader=alice.user) == []
    first.refresh_from_db()
    second.refresh_from_db()
    mine.refresh_from_db()
    assert first.delivered_at <= first.read_at
    assert second.delivered_at == second.read_at  # read implies delivered
    assert mine.delivered_at is None and mine.read_at is None  # alice does not mark her own
    assert services.messages_mark_read(consultation_id=active.pk, reader=clara) == [mine.pk]


def test_outsiders_cannot_mark_messages(active, alice, carl):
    services.message_send(consultation_id=active.pk, sender=alice.user, body="hi")
    with pytest.raises(services.ConsultationError):
        services.messages_mark_read(consultation_id=active.pk, reader=carl)
    assert Message.objects.get().read_at is None


def test_a_note_goes_to_the_clinicians_group_only(active, clara, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        note = services.note_add(consultation_id=active.pk, author=clara, body=NOTE_TEXT)
    assert note.body == NOTE_TEXT
    assert groups(sent) == [f"consultation.{active.pk}.clinicians"]
    assert sent[0][1]["type"] == "consultation.note"


@pytest.mark.parametrize("who", ["alice", "bob", "carl", "hana"])
def test_only_clinicians_of_the_site_write_notes(active, alice, bob, carl, hana, who):
    user = {"alice": alice.user, "bob": bob.user, "carl": carl, "hana": hana}[who]
    with pytest.raises(services.ConsultationError):
        services.note_add(consultation_id=active.pk, author=user, body="a note")
    assert not Note.objects.exists()


def test_a_recommendation_is_shared_with_the_worker(active, clara, alice, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.recommendation_add(consultation_id=active.pk, author=clara, body="Drink water, rest 30 min")
    assert groups(sent) == [f"consultation.{active.pk}"]
    assert sent[0][1]["recommendation"]["body"] == "Drink water, rest 30 min"
    with pytest.raises(services.ConsultationError):
        services.recommendation_add(consultation_id=active.pk, author=alice.user, body="I recommend myself")
    assert Recommendation.objects.count() == 1


def test_closing_records_the_outcome_and_ends_the_chat(active, clara, alice, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        closed = services.consultation_close(consultation_id=active.pk, clinician=clara, outcome="rest_then_return")
    assert (closed.status, closed.outcome, closed.closed_by) == ("closed", "rest_then_return", clara)
    assert sent[0][1]["change"] == "closed" and sent[0][1]["consultation"]["outcome"] == "rest_then_return"
    with pytest.raises(services.ConsultationError):
        services.message_send(consultation_id=active.pk, sender=alice.user, body="one more thing")
    with pytest.raises(services.ConsultationError):
        services.consultation_close(consultation_id=active.pk, clinician=clara, outcome="go_home")
    # Notes may still be added after closing.
    services.note_add(consultation_id=active.pk, author=clara, body="follow up next week")


def test_closing_needs_a_known_outcome_and_a_clinician(active, clara, alice):
    with pytest.raises(services.ConsultationError):
        services.consultation_close(consultation_id=active.pk, clinician=clara, outcome="")
    with pytest.raises(services.ConsultationError):
        services.consultation_close(consultation_id=active.pk, clinician=alice.user, outcome="go_home")
    active.refresh_from_db()
    assert active.status == "active"


def test_closing_a_requested_consultation_records_the_clinician(requested, clara):
    closed = services.consultation_close(consultation_id=requested.pk, clinician=clara, outcome="fit_for_work")
    assert closed.clinician == clara


def test_a_clearance_is_recorded_after_closing_and_a_later_one_supersedes(active, clara, alice):
    with pytest.raises(services.ConsultationError):
        services.clearance_record(consultation_id=active.pk, clinician=clara, return_on=date.today())
    services.consultation_close(consultation_id=active.pk, clinician=clara, outcome="go_home")
    day = active.requested_at.date()
    first = services.clearance_record(consultation_id=active.pk, clinician=clara, return_on=day + timedelta(days=2))
    second = services.clearance_record(
        consultation_id=active.pk, clinician=clara, return_on=day + timedelta(days=1), note="light duties"
    )
    assert list(Clearance.objects.all()) == [second, first]
    assert (second.worker, second.clinician, second.note) == (alice, clara, "light duties")


def test_a_clearance_cannot_predate_the_consultation_or_come_from_others(active, clara, carl, alice):
    services.consultation_close(consultation_id=active.pk, clinician=clara, outcome="go_home")
    with pytest.raises(services.ConsultationError):
        services.clearance_record(
            consultation_id=active.pk, clinician=clara, return_on=active.requested_at.date() - timedelta(days=2)
        )
    for user in (carl, alice.user):
        with pytest.raises(services.ConsultationError):
            services.clearance_record(consultation_id=active.pk, clinician=user, return_on=date.today())
    assert not Clearance.objects.exists()


def test_a_consultation_from_an_alert_stores_a_language_neutral_reason(alice_alert, clara):
    """Stored as the rules write it, shown in each reader's language, with
    no prefix doubled ("발열: 발열: ..." once)."""
    from django.utils import translation

    consultation, _ = services.consultation_start_from_alert(alert_id=alice_alert.pk, clinician=clara)
    assert consultation.reason == alice_alert.message == "SOS pressed"
    with translation.override("ko"):
        korean = consultation.shown_reason
    with translation.override("en"):
        assert consultation.shown_reason == "SOS pressed"
    assert korean != "SOS pressed" and korean.count(korean.split(" ")[0]) == 1
