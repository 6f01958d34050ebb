"""``manage.py seed_demo``: the demo plant, its people and their wearables.

Idempotent: running it again updates the same rows (found by site code,
department name, employee number, username, device serial) instead of adding
new ones, resets the demo passwords, re-issues the demo devices' tokens and
rewrites the devices file. Tokens are stored only as hashes, so the file is
the only place the simulator can get them from; it is written readable by
the owner only. Fixed passwords and a tokens file: for demos, never for a
real deployment.
"""

from __future__ import annotations

import json
import os
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.policy import authenticator_app_enrol
from accounts.role_groups import role_group
from devices.models import Device
from devices.services import device_assign, device_provision, device_token_rotate
from healthhub.env import env_int
from simulation.physiology import shift_on
from workers.models import Department, Shift, ShiftPattern, Site, StaffProfile, StaffRole, Worker
from workers.services import consent_grant, consent_text_ensure

SITE_CODE = "gumi-1"
SITE_NAME = "구미 1공장 (Gumi Plant 1)"
SITE_TZ = "Asia/Seoul"
DEVICE_MODEL = "HealthBand S2 (simulated)"

# (name, heat-exposed): casting, heat treatment and welding bays are hot.
DEPARTMENTS = [
    ("조립 (Assembly)", False),
    ("프레스 (Press)", False),
    ("주조 (Casting)", True),
    ("열처리 (Heat Treatment)", True),
    ("용접 (Welding)", True),
    ("도장 (Painting)", False),
    ("품질검사 (Quality Inspection)", False),
    ("물류 (Logistics)", False),
]

SURNAMES = "김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 홍".split()
GIVEN_NAMES = (
    "민준 서준 도윤 예준 시우 하준 주원 지호 지후 준우 준서 건우 현우 우진 선우 서연 서윤 지우 서현 민서 "
    "하은 하윤 윤서 지유 지민 채원 수아 지아 은서 다은 영수 영호 정훈 성민 상철 경숙 미경 정희 영진 동현 "
    "재현 혜진 은지 명수 광수 순영 미숙 종민 태호 승훈"
).split()


class DemoLogin:
    def __init__(self, role: str, username: str, password: str, surname: str, given: str, note: str) -> None:
        self.role, self.username, self.password = role, username, password
        self.surname, self.given, self.note = surname, given, note


# The first worker's login and the three staff logins. Printed by seed_demo
# and by demo; the README lists them.
WORKER_LOGIN = DemoLogin("worker", "worker", "demo-worker-2026", "", "", "worker portal: own vitals and alerts")
STAFF_LOGINS = {
    StaffRole.CLINICIAN: DemoLogin(
        "clinician", "clinician", "demo-clinician-2026", "이", "서연", "triage, trends, consultations"
    ),
    StaffRole.HR: DemoLogin("HR", "hr", "demo-hr-2026", "박", "지민", "anonymised aggregates only"),
    StaffRole.SITE_ADMIN: DemoLogin(
        "site admin", "siteadmin", "demo-admin-2026", "최", "민호", "Django admin at /admin/"
    ),
    StaffRole.SAFETY_OFFICER: DemoLogin(
        "safety officer", "safety", "demo-safety-2026", "정", "우성", "SOS and falls: who and where, no vitals"
    ),
}
DEMO_LOGINS = [WORKER_LOGIN, *STAFF_LOGINS.values()]
# Staff sign in with a second factor: the demo enrols their authenticator apps
# with these fixed secrets (demo only; `manage.py demo_totp USERNAME` prints
# the current code).
DEMO_TOTP_SECRETS = {
    "clinician": "HGF6DYUC5RF3GXNXZ2ZQPNEQ6S75IRIZ",
    "hr": "N6TW4GDLUAB75YNBF5B5OUSD7MTQNJA3",
    "siteadmin": "RBT6PFFE4PP4XWFY4MKANVVHXWHZHUZF",
    "safety": "Q3JZ7WLKD4XHTB2N5MVYRCE6GPAU4S7F",
}


def default_devices_file() -> Path:
    return Path(settings.DATA_DIR) / "demo-devices.json"


def demo_base_url() -> str:
    """Where the demo answers: the PORT the Makefile and `manage.py demo` use."""
    return f"http://127.0.0.1:{env_int('PORT', 8000)}/"


def format_logins(base_url: str | None = None) -> str:
    """The demo logins as a small table, for the terminal."""
    base_url = base_url or demo_base_url()
    rows = [("role", "username", "password", "")] + [
        (login.role, login.username, login.password, login.note) for login in DEMO_LOGINS
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"Demo logins at {base_url} (fixed passwords, for the demo only):"]
    for row in rows:
        lines.append(
            ("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3]).rstrip()
        )
    lines.append("")
    lines.append("Second factor (demo only): clinician, HR and site admin sign in with a code from an authenticator")
    lines.append("app. Their apps are enrolled with fixed demo secrets; at the code step, enter the current code from")
    lines.append("  .venv/bin/python manage.py demo_totp USERNAME")
    lines.append("or add the secret to an authenticator app on your phone:")
    width = max(len(username) for username in DEMO_TOTP_SECRETS)
    lines.extend(f"  {username.ljust(width)}  {secret}" for username, secret in DEMO_TOTP_SECRETS.items())
    return "\n".join(lines).rstrip()


def write_devices_file(path: Path, entries: list[dict[str, Any]]) -> None:
    """Write the tokens file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(entries, handle, ensure_ascii=False, indent=1)
    # The mode given to open() is masked by the umask and ignored when the
    # file already existed: set it explicitly.
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo plant: a site, departments, workers with wearables, a clinician, "
        "HR and a site administrator with fixed demo passwords, and write the devices' tokens to a file "
        "for simulate_wearables. Safe to run again. For demos only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=50, help="how many workers (default 50)")
        parser.add_argument(
            "--devices-file",
            type=Path,
            default=None,
            help="where to write the devices' tokens (default: var/demo-devices.json)",
        )
        parser.add_argument(
            "--no-logins",
            action="store_true",
            help="do not print the logins (`make demo` prints them once, when the server is up)",
        )
        parser.add_argument(
            "--roster-days", type=int, default=14, help="days of shifts to schedule from today (default 14)"
        )

    def handle(
        self,
        *args: Any,
        workers: int,
        devices_file: Path | None,
        roster_days: int,
        no_logins: bool = False,
        **options: Any,
    ) -> None:
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        devices_file = devices_file or default_devices_file()
        with transaction.atomic():
            site = self._site()
            departments = self._departments(site)
            seeded = [self._worker(index, site, departments) for index in range(1, workers + 1)]
            entries = [entry for _, entry in seeded]
            self._roster([(worker, entry["crew"]) for worker, entry in seeded], site, roster_days)
            for role, login in STAFF_LOGINS.items():
                self._staff(role, login, site)
            self._on_call(site, roster_days)
        write_devices_file(devices_file, entries)

        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {site.name}: {len(departments)} departments, {workers} workers with wearables, "
                f"{len(STAFF_LOGINS)} staff."
            )
        )
        self.stdout.write(f"Device tokens for simulate_wearables: {devices_file} (demo only; keep it private)")
        if not no_logins:
            self.stdout.write("")
            self.stdout.write(format_logins())

    # -- the cast -----------------------------------------------------------------
    def _site(self) -> Site:
        site, _ = Site.objects.update_or_create(code=SITE_CODE, defaults={"name": SITE_NAME, "timezone": SITE_TZ})
        return site

    def _departments(self, site: Site) -> list[tuple[Department, bool]]:
        return [
            (Department.objects.get_or_create(site=site, name=name)[0], heat_exposed)
            for name, heat_exposed in DEPARTMENTS
        ]

    def _user(self, username: str, surname: str, given: str, password: str | None) -> AbstractBaseUser:
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.last_name, user.first_name = surname, given
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save()
        return user

    def _worker(
        self, index: int, site: Site, departments: list[tuple[Department, bool]]
    ) -> tuple[Worker, dict[str, Any]]:
        # One RNG per worker, seeded by position: the same worker gets the same
        # name and traits on every run, whatever --workers is.
        rng = random.Random(f"healthhub-demo-worker-{index}")
        surname, given = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
        department, heat_exposed = departments[(index - 1) % len(departments)]
        if index == 1:
            pattern = ShiftPattern.DAY  # the demo login keeps office-friendly hours
        else:
            pattern = rng.choices(
                [ShiftPattern.DAY, ShiftPattern.THREE_SHIFT, ShiftPattern.TWO_SHIFT, ShiftPattern.NIGHT],
                weights=[4, 3, 2, 1],
            )[0]
        # Crews spread over the rotation so that every shift is staffed.
        crew = {ShiftPattern.THREE_SHIFT: index % 3, ShiftPattern.TWO_SHIFT: index % 2}.get(pattern, 0)
        birth_year = rng.randint(1965, 2003)
        employee_number = f"GM-{index:04d}"
        if index == 1:
            user = self._user(WORKER_LOGIN.username, surname, given, WORKER_LOGIN.password)
        else:
            user = self._user(f"gm{index:04d}", surname, given, None)
        worker, _ = Worker.objects.update_or_create(
            employee_number=employee_number,
            defaults={
                "user": user,
                "site": site,
                "department": department,
                "shift_pattern": pattern,
                "birth_year": birth_year,
                # Workers of the hot bays are recorded as acclimatized; for
                # the others nobody has recorded it (unknown).
                "acclimatized": True if heat_exposed else None,
            },
        )
        # Monitoring needs consent: the demo's workers have agreed (to the
        # current text; running again records nothing new).
        consent_grant(worker=worker, text=consent_text_ensure())
        serial = f"HB-GM-{index:04d}"
        device = Device.objects.filter(serial=serial).first()
        if device is None:
            device, token = device_provision(serial=serial, model=DEVICE_MODEL, worker=worker)
        else:
            if device.worker_id != worker.pk:
                device_assign(device=device, worker=worker)
            token = device_token_rotate(device=device)
        return worker, {
            "serial": serial,
            "token": token,
            "employee_number": employee_number,
            "birth_year": birth_year,
            "shift_pattern": str(pattern),
            "crew": crew,
            "heat_exposed": heat_exposed,
        }

    def _roster(self, crews: list[tuple[Worker, int]], site: Site, days: int) -> None:
        """Schedule the coming shifts from the simulated plant's roster, so
        that the platform's "on shift" agrees with what the simulated
        workers do (rotations have no usual hours without a schedule).
        Shifts from yesterday on are replaced; older ones are history."""
        tz = ZoneInfo(site.timezone)
        today = timezone.now().astimezone(tz).date()
        first, last = today - timedelta(days=1), today + timedelta(days=days)
        Shift.objects.filter(
            worker__in=[worker for worker, _ in crews], starts_at__gte=datetime.combine(first, time.min, tzinfo=tz)
        ).delete()
        shifts = []
        for worker, crew in crews:
            day: date = first
            while day <= last:
                span = shift_on(worker.shift_pattern, crew, day, tz)
                if span is not None:
                    shifts.append(Shift(worker=worker, starts_at=span[0], ends_at=span[1]))
                day += timedelta(days=1)
        Shift.objects.bulk_create(shifts)

    def _on_call(self, site: Site, days: int) -> None:
        """The demo clinician is on call day (08-20) and night (20-08), from
        yesterday on, so the escalation chains have someone to reach."""
        from alerts.models import OnCall

        tz = ZoneInfo(site.timezone)
        clinician = get_user_model().objects.get(username=STAFF_LOGINS[StaffRole.CLINICIAN].username)
        day = timezone.now().astimezone(tz).date() - timedelta(days=1)
        for offset in range(days + 1):
            start = datetime.combine(day + timedelta(days=offset), time(8), tzinfo=tz)
            for shift, begins, hours in (("day", start, 12), ("night", start + timedelta(hours=12), 12)):
                OnCall.objects.update_or_create(
                    site=site, starts_at=begins,
                    defaults={"shift": shift, "ends_at": begins + timedelta(hours=hours), "primary": clinician},
                )  # fmt: skip

    def _staff(self, role: StaffRole, login: DemoLogin, site: Site) -> None:
        user = self._user(login.username, login.surname, login.given, login.password)
        authenticator_app_enrol(user=user, secret=DEMO_TOTP_SECRETS[login.username])
        profile, _ = StaffProfile.objects.update_or_create(user=user, defaults={"role": role})
        profile.sites.add(site)
        if role == StaffRole.SITE_ADMIN:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
            user.groups.add(_site_admin_group())


def _site_admin_group() -> Group:
    """The site administrators' permission group, as the accounts migration
    made it (accounts.role_groups): the demo adds nothing of its own."""
    return role_group(StaffRole.SITE_ADMIN)
