"""Email through Django's email backend (the console backend in the demo)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail


class MailError(Exception):
    pass


def mail_send(*, to: str, subject: str, body: str) -> None:
    try:
        sent = send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)
    except OSError as exc:  # SMTP refused, connection lost
        raise MailError(f"mail not sent: {exc.__class__.__name__}") from None
    if sent != 1:
        raise MailError("mail not sent")
