"""Durable notifications: which messages an alert event owes to whom (rows
written in the event's transaction), sending them (claimed with a
conditional UPDATE, so a duplicated task or a second worker sends nothing
twice), and the sweeper that re-sends what Redis or Celery lost."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from alerts.models import (
    Alert,
    AlertEvent,
    Channel,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    PushSubscription,
)
from alerts.notify.mail import MailError, mail_send
from alerts.notify.push import PushError, PushTarget, push_enabled, push_send
from alerts.notify.selectors import in_quiet_hours, lock_screen_text, preference_of
from alerts.notify.sms import SmsError, gateway

log = logging.getLogger(__name__)

SEND_ERRORS = (PushError, MailError, SmsError)


class NotifyError(Exception):
    """Input that a preference or subscription cannot take."""


def _reachable(user: AbstractBaseUser, pref: NotificationPreference, channel: str) -> bool:
    if channel == Channel.PUSH:
        return push_enabled() and PushSubscription.objects.filter(user=user).exists()
    if channel == Channel.EMAIL:
        return bool(user.email)
    return bool(pref.phone)


def notifications_record(
    *, alert: Alert, event: AlertEvent, users: list[AbstractBaseUser], now: datetime
) -> list[Notification]:
    """Record the messages ``event`` owes to ``users``, in the caller's
    transaction: one row per user and channel that the user chose for the
    alert's severity and can be reached by. Quiet hours hold back all but
    critical alerts (the row is kept, as held, so the history shows it).
    Sending starts after commit; the sweeper covers a lost start."""
    rows: list[Notification] = []
    for user in {u.pk: u for u in users}.values():
        pref = preference_of(user)
        quiet = alert.severity != "critical" and in_quiet_hours(pref, now)
        for channel in Channel.values:
            if alert.severity not in pref.channels.get(channel, []) or not _reachable(user, pref, channel):
                continue
            try:
                with transaction.atomic():
                    rows.append(
                        Notification.objects.create(
                            alert=alert,
                            event=event,
                            user=user,
                            channel=channel,
                            status=DeliveryStatus.HELD if quiet else DeliveryStatus.PENDING,
                            created_at=now,
                            next_attempt_at=now,
                        )
                    )
            except IntegrityError:
                continue  # already owed for this event (a retried step)
    pending = [row.pk for row in rows if row.status == DeliveryStatus.PENDING]
    if pending:
        transaction.on_commit(lambda: _enqueue(pending))
    return rows


def _enqueue(ids: list[int]) -> None:
    from alerts.tasks import send_notification
    from healthhub.dispatch import enqueue

    for pk in ids:
        try:
            enqueue(send_notification, pk)
        except Exception:
            # The broker is down: the row is in the database and the sweeper sends it.
            log.warning("could not enqueue notification %s; the sweeper will send it", pk)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(300, 5 * 2 ** max(0, attempts - 1)))


def notification_send(*, notification_id: int, now: datetime | None = None) -> str:
    """Send one owed message if it is due and nobody else is sending it.

    Returns the row's status afterwards, or "" when it was not claimed
    (already sent, being sent, or not yet due). A failure is recorded and
    retried with backoff up to NOTIFY["MAX_ATTEMPTS"] tries."""
    now = now or timezone.now()
    conf = settings.NOTIFY
    due = Notification.objects.filter(pk=notification_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    claimed = due.update(
        status=DeliveryStatus.SENDING,
        claimed_until=now + timedelta(seconds=conf["CLAIM_S"]),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return ""
    row = Notification.objects.select_related("alert__worker__site", "user").get(pk=notification_id)
    try:
        _deliver(row)
    except SEND_ERRORS as exc:
        failed = row.attempts >= conf["MAX_ATTEMPTS"]
        Notification.objects.filter(pk=row.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.FAILED if failed else DeliveryStatus.PENDING,
            next_attempt_at=timezone.now() + _backoff(row.attempts),
            claimed_until=None,
            last_error=str(exc)[:300],
        )
        if failed:
            log.warning("notification %s failed after %s attempts: %s", row.pk, row.attempts, exc)
        return DeliveryStatus.FAILED if failed else DeliveryStatus.PENDING
    Notification.objects.filter(pk=row.pk).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), claimed_until=None, last_error=""
    )
    return DeliveryStatus.SENT


def _deliver(row: Notification) -> None:
    pref = preference_of(row.user)
    for_worker = row.alert.worker.user_id == row.user_id
    title, body = lock_screen_text(row.alert, for_worker=for_worker, language=pref.language)
    link = settings.NOTIFY["BASE_URL"].rstrip("/") + "/"
    if row.channel == Channel.PUSH:
        payload = {"title": title, "body": body, "url": "/", "tag": f"alert-{row.alert_id}"}
        urgency = "high" if row.alert.severity in ("urgent", "critical") else "normal"
        _push_to_all(row.user, payload, urgency=urgency)
    elif row.channel == Channel.EMAIL:
        mail_send(to=row.user.email, subject=body, body=f"{body}\n\n{link}\n")
    else:
        gateway().send(pref.phone, f"[{title}] {body} {link}")


def _push_to_all(user: AbstractBaseUser, payload: dict, *, urgency: str) -> int:
    """Push to every device of the user; succeeds if one took it. Devices the
    push service no longer knows are forgotten."""
    subscriptions = list(PushSubscription.objects.filter(user=user))
    if not subscriptions:
        raise PushError("no device subscribed")
    delivered, errors = 0, []
    for sub in subscriptions:
        try:
            push_send(PushTarget(sub.endpoint, sub.p256dh, sub.auth), payload, urgency=urgency)
        except PushError as exc:
            if exc.gone:
                sub.delete()
            errors.append(str(exc))
            continue
        delivered += 1
        PushSubscription.objects.filter(pk=sub.pk).update(last_success_at=timezone.now())
    if not delivered:
        raise PushError("; ".join(errors)[:300])
    return delivered


def notifications_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Re-send what is owed: release claims whose sender died, then enqueue
    every due pending row (oldest first). Returns how many were enqueued."""
    now = now or timezone.now()
    Notification.objects.filter(status=DeliveryStatus.SENDING, claimed_until__lt=now).update(
        status=DeliveryStatus.PENDING, claimed_until=None, next_attempt_at=now
    )
    due = list(
        Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue(due)
    return len(due)


def push_test(*, user: AbstractBaseUser) -> tuple[int, int]:
    """Send a test notification to each of the user's devices at once:
    (delivered, devices)."""
    from django.utils import translation
    from django.utils.translation import gettext

    with translation.override(preference_of(user).language):
        payload = {"title": "healthhub", "body": gettext("Test notification: this device will be alerted"), "url": "/"}
    devices = PushSubscription.objects.filter(user=user).count()
    try:
        return _push_to_all(user, payload, urgency="normal"), devices
    except PushError:
        return 0, devices


@transaction.atomic
def subscription_save(*, user: AbstractBaseUser, name: str, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    """Add (or, for an endpoint already known, take over and rename) a device."""
    name = name.strip() or "?"
    sub, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": user, "name": name[:80], "p256dh": p256dh, "auth": auth}
    )
    return sub


def subscription_rename(*, user: AbstractBaseUser, subscription_id: int, name: str) -> bool:
    return bool(PushSubscription.objects.filter(pk=subscription_id, user=user).update(name=name.strip()[:80] or "?"))


def subscription_remove(*, user: AbstractBaseUser, subscription_id: int) -> bool:
    deleted, _ = PushSubscription.objects.filter(pk=subscription_id, user=user).delete()
    return bool(deleted)


def preference_save(
    *,
    user: AbstractBaseUser,
    channels: dict[str, list[str]],
    phone: str,
    quiet_start,
    quiet_end,
    language: str,
    time_zone: str,
) -> NotificationPreference:
    """Save the user's choices. Critical alerts must reach them somehow: at
    least one channel keeps critical."""
    if not any("critical" in channels.get(c, []) for c in Channel.values):
        raise NotifyError("critical alerts need at least one channel")
    pref, _ = NotificationPreference.objects.update_or_create(
        user=user,
        defaults={
            "channels": {c: sorted(set(channels.get(c, []))) for c in Channel.values},
            "phone": phone,
            "quiet_start": quiet_start,
            "quiet_end": quiet_end,
            "language": language,
            "time_zone": time_zone,
        },
    )
    return pref


def push_to_devices(*, user: AbstractBaseUser, payload: dict, now: datetime | None = None) -> int:
    """Best-effort Web Push of a non-alert message (a site notice) to each of
    the user's devices: nothing in their quiet hours or when push is off, no
    retry. Returns how many devices took it. The caller's text must name no
    diagnosis: it shows on a lock screen."""
    if not push_enabled() or in_quiet_hours(preference_of(user), now or timezone.now()):
        return 0
    try:
        return _push_to_all(user, payload, urgency="normal")
    except PushError:
        return 0
