"""Questions answered in writing: a worker asks, with an optional photo,
and a clinician of the site answers in the consultation's chat within the
service's stated time (``QUESTION_ANSWER_HOURS``). Unanswered past it, the
question is marked overdue and the site's clinicians are told again.

Photos are re-encoded without metadata (no location, no camera, no
thumbnail), kept outside any public URL, and served only to the worker and
the site's clinicians, each clinician's look written to the access log."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext
from PIL import Image, ImageOps, UnidentifiedImageError

from consultations.models import Consultation, ConsultationKind, ConsultationStatus, Message, Photo, Urgency
from consultations.selectors import Side, side_of
from consultations.services import MAX_TEXT, ConsultationError, _publish_changed, _text
from workers.models import Worker
from workers.services import access_log_record

# Large enough for a phone photo of a rash, small enough to send on a
# factory's Wi-Fi; larger photos are scaled down.
MAX_SIDE = 2048
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}


def photo_clean(upload: UploadedFile) -> tuple[bytes, int, int]:
    """The photo as a JPEG with no metadata, turned upright, at most
    MAX_SIDE pixels a side. Raises ConsultationError for anything that is not
    a photo of an accepted kind or is too large."""
    if upload.size > settings.QUESTION_PHOTO_MAX_BYTES:
        raise ConsultationError(gettext("The photo is too large."))
    try:
        with Image.open(upload) as image:
            if image.format not in ACCEPTED_FORMATS:
                raise ConsultationError(gettext("Send a photo (JPEG, PNG or WebP)."))
            image.load()
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ConsultationError(gettext("Send a photo (JPEG, PNG or WebP).")) from exc
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    # A fresh image carries no EXIF, GPS, XMP or ICC data unless given it.
    Image.frombytes("RGB", upright.size, upright.tobytes()).save(out, format="JPEG", quality=88)
    return out.getvalue(), upright.width, upright.height


@transaction.atomic
def question_ask(
    *, worker: Worker, text: str, photo: UploadedFile | None = None, now: datetime | None = None
) -> Consultation:
    """The worker asks a question; it is due an answer within the service's
    stated time."""
    now = now or timezone.now()
    text = _text(text, MAX_TEXT, gettext("Please write your question."))
    cleaned = photo_clean(photo) if photo is not None else None
    consultation = Consultation.objects.create(
        worker=worker,
        kind=ConsultationKind.QUESTION,
        reason=text,
        urgency=Urgency.ROUTINE,
        requested_at=now,
        answer_due_at=now + timedelta(hours=settings.QUESTION_ANSWER_HOURS),
    )
    if cleaned is not None:
        data, width, height = cleaned
        stored = Photo(consultation=consultation, uploaded_by=worker.user, width=width, height=height, uploaded_at=now)
        stored.image.save(f"{consultation.pk}.jpg", ContentFile(data), save=False)
        stored.save()
    _publish_changed(consultation, "requested")
    return consultation


def questions_mark_overdue(*, now: datetime | None = None) -> int:
    """Beat: questions past their due time with no clinician's answer are
    marked overdue (once: a conditional UPDATE claims each) and their site's
    clinicians are told again. Returns how many."""
    now = now or timezone.now()
    answered = Message.objects.filter(consultation=OuterRef("pk"), from_worker=False)
    late = Consultation.objects.filter(
        kind=ConsultationKind.QUESTION, answer_due_at__lt=now, overdue_at__isnull=True
    ).exclude(status=ConsultationStatus.CLOSED)
    count = 0
    for consultation in late.filter(~Exists(answered)).select_related("worker"):
        with transaction.atomic():
            if Consultation.objects.filter(pk=consultation.pk, overdue_at__isnull=True).update(overdue_at=now):
                consultation.overdue_at = now
                _publish_changed(consultation, "overdue")
                count += 1
    return count


def photo_for(*, user: AbstractBaseUser, photo_id: int) -> Photo:
    """A question's photo for its worker or a clinician of the worker's site
    (the clinician's look is written to the access log); Photo.DoesNotExist
    for anyone else, as for a photo that does not exist."""
    photo = Photo.objects.select_related("consultation__worker").get(pk=photo_id)
    side = side_of(user, photo.consultation)
    if side is None:
        raise Photo.DoesNotExist
    if side == Side.CLINICIAN:
        access_log_record(accessor=user, worker=photo.consultation.worker, what="question photo")
    return photo
