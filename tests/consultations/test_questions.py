"""Questions answered in writing, with a photo: metadata stripped, stored
privately, served to the worker and the site's clinicians only (each
clinician's look logged), and overdue when unanswered in time."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from consultations import questions, services
from consultations.models import ConsultationKind, Photo
from consultations.services import ConsultationError
from workers.models import AccessLog

pytestmark = pytest.mark.django_db

GPS_IFD = 0x8825


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "public"


def jpeg_with_location(size=(640, 480)) -> SimpleUploadedFile:
    image = Image.new("RGB", size, (200, 80, 60))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x0112] = 6  # orientation: rotate 90°
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (36.0, 7.0, 12.0), 3: "E", 4: (128.0, 20.0, 5.0)})
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return SimpleUploadedFile("rash.jpg", out.getvalue(), content_type="image/jpeg")


def test_a_question_with_a_photo_keeps_no_location_and_is_turned_upright(alice, settings):
    asked = questions.question_ask(worker=alice, text="A rash on my arm", photo=jpeg_with_location())
    assert asked.kind == ConsultationKind.QUESTION
    assert asked.answer_due_at - asked.requested_at == timedelta(hours=24)
    photo = asked.photos.get()
    with photo.image.open("rb") as stored, Image.open(stored) as image:
        assert image.getexif() == {} and "exif" not in image.info and "icc_profile" not in image.info
        assert image.size == (480, 640)  # the orientation was applied, then dropped
    with pytest.raises(ValueError):
        photo.image.url  # noqa: B018  (no public URL)
    assert str(photo.image.storage.location).startswith(str(settings.PRIVATE_MEDIA_ROOT))


def test_only_photos_are_accepted(alice):
    with pytest.raises(ConsultationError):
        questions.question_ask(
            worker=alice, text="see file", photo=SimpleUploadedFile("x.jpg", b"%PDF-1.4 not an image")
        )
    assert not Photo.objects.exists()


def test_the_photo_is_served_to_the_worker_and_site_clinicians_only(client, alice, bob, clara, carl, hana, adam):
    asked = questions.question_ask(worker=alice, text="A burn", photo=jpeg_with_location())
    url = reverse("consultations:photo", args=[asked.photos.get().pk])
    for allowed in (alice.user, clara):
        client.force_login(allowed)
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert "no-store" in response["Cache-Control"]
    for refused in (bob.user, carl, hana, adam):
        client.force_login(refused)
        assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code in (302, 404)
    assert list(AccessLog.objects.filter(worker=alice, what="question photo").values_list("accessor", flat=True)) == [
        clara.pk
    ]


def test_an_unanswered_question_becomes_overdue_once(alice, clara):
    asked = questions.question_ask(worker=alice, text="Is my SpO2 fine?")
    due = asked.answer_due_at
    assert questions.questions_mark_overdue(now=due - timedelta(minutes=1)) == 0
    assert questions.questions_mark_overdue(now=due + timedelta(minutes=1)) == 1
    assert questions.questions_mark_overdue(now=due + timedelta(minutes=2)) == 0
    asked.refresh_from_db()
    assert asked.overdue_at == due + timedelta(minutes=1)


def test_an_answered_question_is_not_overdue(alice, clara):
    asked = questions.question_ask(worker=alice, text="Can I work tomorrow?")
    services.consultation_take(consultation_id=asked.pk, clinician=clara)
    services.message_send(consultation_id=asked.pk, sender=clara, body="Yes, if the fever is gone.")
    assert questions.questions_mark_overdue(now=asked.answer_due_at + timedelta(hours=1)) == 0


def test_the_worker_asks_from_the_page(client, alice):
    client.force_login(alice.user)
    response = client.post(
        reverse("consultations:new"), {"kind": "question", "text": "A rash", "photo": jpeg_with_location()}
    )
    assert response.status_code == 302
    asked = alice.consultations.get()
    assert asked.kind == "question" and asked.photos.count() == 1
    page = client.get(response["Location"]).content.decode()
    assert reverse("consultations:photo", args=[asked.photos.get().pk]) in page


def test_a_request_to_talk_still_works_beside_the_question_form(client, alice):
    client.force_login(alice.user)
    response = client.post(reverse("consultations:new"), {"kind": "live", "reason": "Dizzy", "urgency": "soon"})
    assert response.status_code == 302
    assert alice.consultations.get().kind == "live"
    now = timezone.now()
    assert alice.consultations.get().requested_at <= now
