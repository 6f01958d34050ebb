"""Writes about workers."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from workers.models import (
    AccessAction,
    AccessLog,
    CheckIn,
    Consent,
    ConsentDecision,
    ConsentText,
    Department,
    ShiftPattern,
    SignInCode,
    Site,
    StaffProfile,
    Worker,
    WorkerEvent,
)
from workers.signals import consent_withdrawn, health_data_changed

ACCESS_LOG_COALESCE_S = 600


def access_log_record(*, accessor: AbstractBaseUser, worker: Worker, what: str, reason: str = "") -> None:
    """Record a read of ``worker``'s health data by someone else. A worker
    reading their own data is not logged. A page that refreshes itself
    (a clinician's open worker page polls every few seconds) writes one entry
    per ACCESS_LOG_COALESCE_S for the same reader, worker, what and reason,
    so "who viewed my data" stays readable; the first read is always logged."""
    if worker.user_id == accessor.pk:
        return
    what, reason = what[:200], reason[:200]
    recent = timezone.now() - timedelta(seconds=ACCESS_LOG_COALESCE_S)
    same = AccessLog.objects.filter(accessor=accessor, worker=worker, what=what, reason=reason, at__gte=recent)
    if not same.exists():
        AccessLog.objects.create(accessor=accessor, worker=worker, what=what, reason=reason)


def access_log_push(*, accessor: AbstractBaseUser, worker_id: int, what: str, item: str, origin: str) -> bool:
    """Record that ``item`` (e.g. "alert:12") about worker ``worker_id`` was
    pushed to ``accessor``'s open screen: one row per record per recipient,
    however often it is sent again (the unique constraint decides, so two
    sockets or processes racing write one row). The worker's own pushes are
    not logged. Returns whether a row was written."""
    owner = Worker.objects.filter(pk=worker_id).values_list("user_id", flat=True).first()
    if owner is None or owner == accessor.pk:
        return False
    try:
        with transaction.atomic():
            AccessLog.objects.create(
                accessor=accessor,
                worker_id=worker_id,
                what=what[:200],
                item=item[:64],
                origin=origin,
                action=AccessAction.PUSH,
            )
    except IntegrityError:
        return False
    return True


def worker_event_record(*, worker_id: int, kind: str, detail: str = "", by: AbstractBaseUser | None = None) -> None:
    """Tell the worker (on their privacy page) that ``kind`` happened to them."""
    by = by if by is not None and by.pk is not None else None
    WorkerEvent.objects.create(worker_id=worker_id, kind=kind, detail=detail[:200], by=by, at=timezone.now())


class NoConsent(Exception):
    """The worker has not consented to monitoring (or has withdrawn): no
    health data of theirs is taken in."""


def checkin_submit(
    *, worker: Worker, temperature: float | None, symptoms: list[str], now: datetime | None = None
) -> CheckIn:
    """Record today's check-in (the site's local day), replacing an earlier
    one of the same day, and have the worker's alerts re-evaluated (a
    thermometer value of 37.5 °C or more is a fever)."""
    from workers.selectors import worker_has_consent

    if not worker_has_consent(worker.pk):
        raise NoConsent("monitoring needs the worker's consent")
    now = now or timezone.now()
    unknown = set(symptoms) - set(CheckIn.SYMPTOMS)
    if unknown:
        raise ValueError(f"unknown symptoms: {sorted(unknown)}")
    if temperature is not None and not 30 <= temperature <= 45:
        raise ValueError("temperature must be between 30 and 45 °C")
    day = now.astimezone(ZoneInfo(worker.site.timezone)).date()
    fields = {name: name in symptoms for name in CheckIn.SYMPTOMS}
    with transaction.atomic():
        checkin, _ = CheckIn.objects.update_or_create(
            worker=worker, day=day, defaults={"temperature": temperature, "submitted_at": now, **fields}
        )
        transaction.on_commit(lambda: health_data_changed.send(sender=CheckIn, worker_id=worker.pk))
    return checkin


def consent_text_ensure() -> ConsentText:
    """The newest published consent text. A database without any (one
    emptied after migrating) gets the initial text of workers/consent.py
    published first, as migration 0005 does."""
    from workers.consent import INITIAL_PUBLISHED_AT, INITIAL_TEXT_EN, INITIAL_TEXT_KO, INITIAL_VERSION

    text = ConsentText.objects.order_by("-version").first()
    if text is None:
        text, _ = ConsentText.objects.get_or_create(
            version=INITIAL_VERSION,
            defaults={"text_ko": INITIAL_TEXT_KO, "text_en": INITIAL_TEXT_EN, "published_at": INITIAL_PUBLISHED_AT},
        )
    return text


class ConsentError(Exception):
    """A consent decision that cannot be recorded: no text has been published."""


def consent_grant(
    *,
    worker: Worker,
    text: ConsentText | None = None,
    by: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> Consent:
    """Record that ``worker`` agrees to monitoring under ``text`` (default:
    the newest published version). Appends to the history, never changes
    it; agreeing again to the version already agreed to records nothing and
    returns the standing decision."""
    from workers.selectors import consent_latest, consent_text_current

    now = now or timezone.now()
    text = text or consent_text_current()
    if text is None:
        raise ConsentError("no consent text has been published")
    with transaction.atomic():
        # Lock the worker's row: two grants at once record one decision.
        Worker.objects.select_for_update().filter(pk=worker.pk).first()
        latest = consent_latest(worker.pk)
        if latest is not None and latest.decision == ConsentDecision.GRANTED and latest.text_id == text.pk:
            return latest
        return Consent.objects.create(
            worker=worker, text=text, decision=ConsentDecision.GRANTED, at=now, recorded_by=by
        )


def consent_withdraw(
    *, worker: Worker, by: AbstractBaseUser | None = None, now: datetime | None = None
) -> Consent | None:
    """Record that ``worker`` withdraws consent: monitoring stops. Appends a
    withdrawal under the text they had agreed to, and after commit tells
    each of the worker's device connections (``device.consent_withdrawn`` to
    its device group), which closes it with 4403. Withdrawing without a
    standing consent records nothing and returns None."""
    from workers.selectors import consent_latest

    now = now or timezone.now()
    with transaction.atomic():
        Worker.objects.select_for_update().filter(pk=worker.pk).first()
        latest = consent_latest(worker.pk)
        if latest is None or latest.decision != ConsentDecision.GRANTED:
            return None
        consent = Consent.objects.create(
            worker=worker, text_id=latest.text_id, decision=ConsentDecision.WITHDRAWN, at=now, recorded_by=by
        )
        transaction.on_commit(lambda: consent_withdrawn.send(sender=Consent, worker_id=worker.pk))
    return consent


# -- enrolment: a site administrator signs a worker up --------------------------


class WorkerUserError(ValueError):
    """A worker record that would point at the wrong sign-in: another user
    than the one it was created with, or a staff account."""


def user_is_staff(user_id: int) -> bool:
    """Whether the user is staff of any kind (Django staff, superuser, or a
    clinician, HR or administrator profile): someone who sees more than
    their own data."""
    user = get_user_model().objects.filter(pk=user_id).values("is_staff", "is_superuser").first()
    if user is None:
        return False
    return user["is_staff"] or user["is_superuser"] or StaffProfile.objects.filter(user_id=user_id).exists()


def worker_user_check(*, worker: Worker) -> None:
    """Refuse a worker whose user link changed since creation, or whose user
    is a staff account (see Worker.save)."""
    if worker.pk is not None:
        stored = Worker.objects.filter(pk=worker.pk).values_list("user_id", flat=True).first()
        if stored is not None and stored != worker.user_id:
            raise WorkerUserError("a worker's sign-in is set when the worker is created and cannot change")
    if worker.user_id is not None and user_is_staff(worker.user_id):
        raise WorkerUserError("a staff account cannot be a worker's sign-in")


# Crockford's base32 less the easily confused letters: read aloud or typed
# from paper on a phone. 12 characters = 60 bits, single use, expiring.
SIGN_IN_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
SIGN_IN_CODE_LENGTH = 12
SIGN_IN_CODE_DAYS = 14


def sign_in_code_normalize(code: str) -> str:
    """The code as issued: upper case, without the dashes and spaces people
    type or the sheet prints."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _code_hash(code: str) -> str:
    return hashlib.sha256(sign_in_code_normalize(code).encode()).hexdigest()


def sign_in_code_format(code: str) -> str:
    """XXXX-XXXX-XXXX, as printed on the sheet."""
    code = sign_in_code_normalize(code)
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def sign_in_code_issue(*, user: AbstractBaseUser, by: AbstractBaseUser | None, now: datetime | None = None) -> str:
    """Issue a one-time sign-in code for a worker's user and return it (the
    only time it is seen: only its hash is stored). Earlier unused codes of
    the user stop working."""
    if user_is_staff(user.pk):
        raise WorkerUserError("sign-in codes are for workers only")
    now = now or timezone.now()
    code = "".join(secrets.choice(SIGN_IN_CODE_ALPHABET) for _ in range(SIGN_IN_CODE_LENGTH))
    with transaction.atomic():
        SignInCode.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
        SignInCode.objects.create(
            user=user,
            code_hash=_code_hash(code),
            created_at=now,
            expires_at=now + timedelta(days=SIGN_IN_CODE_DAYS),
            created_by=by,
        )
    return sign_in_code_format(code)


def sign_in_code_redeem(*, code: str, now: datetime | None = None) -> AbstractBaseUser | None:
    """The worker's user the code signs in, or None for a code that is
    unknown, used, expired, of a deactivated worker or of a staff account.
    A code is claimed by a conditional UPDATE, so it works once even when
    two phones try it at the same moment."""
    now = now or timezone.now()
    if len(sign_in_code_normalize(code)) != SIGN_IN_CODE_LENGTH:
        return None
    entry = SignInCode.objects.filter(code_hash=_code_hash(code)).select_related("user").first()
    if entry is None or entry.used_at is not None or entry.expires_at <= now:
        return None
    user = entry.user
    if not user.is_active or user_is_staff(user.pk) or not Worker.objects.filter(user=user).exists():
        return None
    claimed = SignInCode.objects.filter(pk=entry.pk, used_at__isnull=True).update(used_at=now)
    return user if claimed else None


@dataclass(frozen=True)
class NewWorker:
    """What the enrolment form or one row of an import gives."""

    employee_number: str
    name: str
    department: Department
    shift_pattern: str
    language: str
    birth_year: int


@dataclass
class EnrolledWorker:
    worker: Worker
    code: str  # the one-time sign-in code, shown once


def worker_enrol(*, new: NewWorker, by: AbstractBaseUser | None, now: datetime | None = None) -> EnrolledWorker:
    """Create a worker's sign-in and worker record together and issue their
    first one-time sign-in code. The sign-in name is the employee number; the
    account has no usable password until the worker sets one after signing
    in with the code. The whole name goes into ``first_name``: person_name
    shows it as written, Korean or not."""
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model(username=new.employee_number, first_name=new.name)
        user.set_unusable_password()
        user.save()
        worker = Worker.objects.create(
            user=user,
            employee_number=new.employee_number,
            site=new.department.site,
            department=new.department,
            shift_pattern=new.shift_pattern,
            language=new.language,
            birth_year=new.birth_year,
        )
        code = sign_in_code_issue(user=user, by=by, now=now)
    return EnrolledWorker(worker=worker, code=code)


def worker_deactivate(*, worker: Worker) -> None:
    """Stop a worker's sign-in and monitoring without deleting anything: the
    record, their history and the access log stay (and their devices, which
    the administrator revokes or reassigns from the worker's page). Unused
    sign-in codes stop working."""
    with transaction.atomic():
        type(worker.user).objects.filter(pk=worker.user_id).update(is_active=False)
        SignInCode.objects.filter(user_id=worker.user_id, used_at__isnull=True).update(used_at=timezone.now())
    worker.user.is_active = False


def worker_reactivate(*, worker: Worker) -> None:
    """Let a deactivated worker sign in again (a new code gets them in)."""
    type(worker.user).objects.filter(pk=worker.user_id).update(is_active=True)
    worker.user.is_active = True


# -- bulk import from CSV -------------------------------------------------------

IMPORT_COLUMNS = ("employee_number", "name", "department", "shift_pattern", "language", "birth_year")
IMPORT_MAX_ROWS = 2000


@dataclass
class ImportRow:
    line: int  # the line in the file (the header is line 1)
    values: dict[str, str]
    new: NewWorker | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    rows: list[ImportRow]
    enrolled: list[EnrolledWorker] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    @property
    def invalid(self) -> list[ImportRow]:
        return [row for row in self.rows if row.errors]


def _shift_value(raw: str) -> str | None:
    raw = raw.strip()
    for value, label in ShiftPattern.choices:
        if raw.lower() == value or raw == str(label):
            return value
    return None


def workers_import_parse(*, data: bytes, site: Site) -> ImportResult:
    """Read and check every row of a CSV of new workers for ``site``
    without writing anything. Columns (a header row names them, any order):
    employee_number, name, department (a department of the site, by name),
    shift_pattern (day, night, two_shift, three_shift), language (ko, en),
    birth_year (heart-rate limits depend on age). Each row gets the list of
    what is wrong with it, in the words an administrator can act on."""
    from django.utils.translation import gettext as _

    result = ImportResult(rows=[])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.file_errors.append(_("The file is not UTF-8 text: save it from the spreadsheet as “CSV UTF-8”."))
        return result
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in IMPORT_COLUMNS if name not in header]
    if missing:
        result.file_errors.append(_("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)})
        return result
    reader.fieldnames = header
    departments = {d.name: d for d in Department.objects.filter(site=site)}
    languages = {code for code, _name in settings.LANGUAGES}
    seen: dict[str, int] = {}
    for index, raw in enumerate(reader):
        if index >= IMPORT_MAX_ROWS:
            result.file_errors.append(_("At most %(count)d rows at a time.") % {"count": IMPORT_MAX_ROWS})
            return result
        values = {name: (raw.get(name) or "").strip() for name in IMPORT_COLUMNS}
        row = ImportRow(line=reader.line_num, values=values)
        result.rows.append(row)
        number = values["employee_number"]
        if not number:
            row.errors.append(_("employee number is empty"))
        elif len(number) > Worker._meta.get_field("employee_number").max_length or not number.isprintable():
            row.errors.append(_("employee number is too long or has odd characters"))
        elif number in seen:
            row.errors.append(_("employee number repeats line %(line)d") % {"line": seen[number]})
        else:
            seen[number] = row.line
        if not values["name"]:
            row.errors.append(_("name is empty"))
        elif len(values["name"]) > 150:
            row.errors.append(_("name is longer than 150 characters"))
        department = departments.get(values["department"])
        if department is None:
            row.errors.append(
                _("no department “%(name)s” at %(site)s") % {"name": values["department"], "site": site.name}
            )
        shift = _shift_value(values["shift_pattern"])
        if shift is None:
            row.errors.append(_("shift pattern must be one of %(values)s") % {"values": ", ".join(ShiftPattern.values)})
        language = values["language"].lower() or settings.LANGUAGE_CODE
        if language not in languages:
            row.errors.append(_("language must be one of %(values)s") % {"values": ", ".join(sorted(languages))})
        try:
            birth_year = int(values["birth_year"])
            if not 1900 <= birth_year <= timezone.now().year - 14:
                raise ValueError
        except ValueError:
            birth_year = 0
            row.errors.append(_("birth year must be a year such as 1985"))
        if not row.errors:
            row.new = NewWorker(
                employee_number=number,
                name=values["name"],
                department=department,
                shift_pattern=shift,
                language=language,
                birth_year=birth_year,
            )
    if not result.rows:
        result.file_errors.append(_("The file has no rows under its header."))
        return result
    taken_numbers = set(Worker.objects.filter(employee_number__in=list(seen)).values_list("employee_number", flat=True))
    taken_users = set(get_user_model().objects.filter(username__in=list(seen)).values_list("username", flat=True))
    for row in result.rows:
        number = row.values["employee_number"]
        if row.new is not None and (number in taken_numbers or number in taken_users):
            row.errors.append(_("employee number %(number)s is already enrolled") % {"number": number})
            row.new = None
    return result


def workers_import(
    *, data: bytes, site: Site, only_valid: bool, by: AbstractBaseUser | None, now: datetime | None = None
) -> ImportResult:
    """Enrol the workers of a CSV (see workers_import_parse). With any row
    in error, nothing is imported unless ``only_valid``: then the valid rows
    are, and the result still lists the others with their reasons. All or
    none of the rows to import are written (one transaction)."""
    result = workers_import_parse(data=data, site=site)
    if result.file_errors or (result.invalid and not only_valid):
        return result
    try:
        with transaction.atomic():
            for row in result.rows:
                if row.new is not None:
                    result.enrolled.append(worker_enrol(new=row.new, by=by, now=now))
    except IntegrityError:
        # Someone enrolled one of these numbers since the check: nothing is
        # written; the administrator imports again and sees which.
        from django.utils.translation import gettext as _

        result.enrolled = []
        result.file_errors.append(_("The workers changed while importing; nothing was imported. Try again."))
    return result


# What a clinician records on a worker for the alert rules.
HEAT_PROFILE_FIELDS = ("acclimatized", "hypercapnic_respiratory_failure")


def worker_heat_profile_update(*, worker: Worker, by: AbstractBaseUser, changes: dict[str, bool | None]) -> Worker:
    """A clinician records what the alert rules must know about a worker:
    heat acclimatization (True, False, or None: back to unknown) and
    hypercapnic respiratory failure (SpO2 judged on NEWS2 scale 2). Fields
    not in ``changes`` are left as they are; the change is logged as an
    access to the worker's health data."""
    unknown = set(changes) - set(HEAT_PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not part of the heat profile: {sorted(unknown)}")
    if changes.get("hypercapnic_respiratory_failure", False) is None:
        raise ValueError("hypercapnic_respiratory_failure is true or false")
    for name, value in changes.items():
        setattr(worker, name, value)
    if changes:
        worker.save(update_fields=list(changes))
        access_log_record(accessor=by, worker=worker, what="clinical profile", reason="updated " + ", ".join(changes))
    return worker
