"""The access matrix: a worker's health data reaches only the worker and the
clinicians of the worker's site, by any route.

Every URL pattern of the project (walked from the URL resolver, so a new
route is covered without editing this test), with every method the API
schema declares for it (GET and POST for pages), is requested as each kind of
user, with every kind of id a route could take (own, a colleague's, another
site's, missing). Two workers on two sites carry distinctive health data; a
response to someone who may not see a worker's data must not contain any of
it. Identity (name, employee number) is forbidden too, except to the site
administrators and superusers who manage people. Every socket route is then
opened as each user, live events are raised for both workers, and no frame
may carry what that user may not see.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from alerts.rules.base import Evaluation, Severity
from alerts.services import alert_apply
from consultations import services as consult
from devices.models import Reading
from devices.services import device_provision
from healthhub.asgi import application
from tests.factories import UserFactory, staff
from workers.models import AccessLog, CheckIn, Worker
from workers.names import person_name

SKIPPED_PREFIXES = ("static/", "admin/jsi18n", "i18n/", "accounts/logout")


def walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def fill(pattern: str, ids: list[str], words: list[str]) -> list[str]:
    """Concrete paths for a route pattern, each placeholder tried with every candidate."""
    pattern = pattern.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\.", ".")
    slots = re.findall(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>([^)]*)\)", pattern)
    if not slots:
        return ["/" + pattern]
    choices = []
    for conv, _name, group, regex in slots:
        numeric = conv in ("int",) or (group and regex in ("[0-9]+", "\\d+"))
        if group and "|" in regex:
            choices.append(regex.strip("()").split("|"))
        else:
            choices.append(ids if numeric else ids + words)
    paths = []
    for combo in itertools.islice(itertools.product(*choices), 400):
        values = iter(combo)
        path = re.sub(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)", lambda _m, values=values: next(values), pattern)
        paths.append("/" + path)
    return paths


@dataclass
class Subject:
    """A worker with distinctive health data that appears nowhere else."""

    worker: Worker
    heart_rate: float
    temperature: float
    reason: str
    alert_message: str
    ids: list[str]

    def health_markers(self) -> list[str]:
        return [str(self.heart_rate), str(self.temperature), self.reason, self.alert_message]

    def identity_markers(self) -> list[str]:
        return [self.worker.employee_number, person_name(self.worker.user)]


def make_subject(worker: Worker, clinician, serial: str, n: int) -> Subject:
    # Names that appear nowhere else (generated names can be short words that
    # any page might contain, which would make the identity check flaky).
    worker.user.first_name, worker.user.last_name = f"Subjectfirst{n}q", f"Subjectlast{n}z"
    worker.user.save(update_fields=["first_name", "last_name"])
    device, _ = device_provision(serial=serial, model="Band 3", worker=worker)
    now = timezone.now()
    heart_rate = 171.25 + n
    temperature = 38.65 + n / 10
    Reading.objects.create(
        device=device, worker=worker, metric="heart_rate", value=heart_rate, measured_at=now, received_at=now
    )
    checkin = CheckIn.objects.create(
        worker=worker, day=now.date(), temperature=temperature, cough=True, submitted_at=now
    )
    message = f"oxygen-low-{n}-9c1d"
    alert = alert_apply(
        worker_id=worker.pk,
        evaluation=Evaluation.active("hypoxemia", Severity.WARNING, message, spo2=heart_rate),
        now=datetime.now(UTC),
    )
    reason = f"swollen-ankle-{n}-7f3e"
    consultation = consult.consultation_request(worker=worker, reason=reason, urgency="soon")
    log = AccessLog.objects.create(accessor=clinician, worker=worker, what="readings")
    ids = [str(obj.pk) for obj in (worker, device, alert, consultation, checkin, log)]
    return Subject(worker, heart_rate, temperature, reason, message, ids)


@pytest.fixture
def matrix(cast, alice, bob, charlie, clara, carl, site_a):
    subjects = {
        "alice": make_subject(alice, clara, "A-1", 1),
        "charlie": make_subject(charlie, carl, "B-1", 2),
    }
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    users = {
        "anonymous": None,
        **cast,
        "root": root,
        # A safety officer of alice's site: with no SOS or fall open, nothing of anyone's.
        "sam": staff("sam", "safety_officer", site_a),
    }
    # Who may see whose health data, and whose identity.
    health = {"alice": {"alice"}, "clara": {"alice"}, "charlie": {"charlie"}, "carl": {"charlie"}}
    identity = {**health, "adam": {"alice"}, "root": {"alice", "charlie"}}
    return subjects, users, health, identity, [str(bob.pk), "987654321"]


def forbidden_markers(name: str, subjects: dict[str, Subject], health, identity) -> list[str]:
    markers = []
    for subject_name, subject in subjects.items():
        if subject_name not in health.get(name, set()):
            markers += subject.health_markers()
        if subject_name not in identity.get(name, set()):
            markers += subject.identity_markers()
    return markers


def carried(markers: list[str], text: str) -> list[str]:
    """The markers found in ``text``. A number counts only as itself, not
    inside a longer number or a time of day ("12:38:38.750123" does not
    carry 38.75)."""
    found = []
    for marker in markers:
        if marker.replace(".", "", 1).isdigit():
            if re.search(rf"(?<![\d.:]){re.escape(marker)}(?!\d)", text):
                found.append(marker)
        elif marker in text:
            found.append(marker)
    return found


def schema_methods() -> dict[str, set[str]]:
    """Methods the API schema declares, by path template ({id} placeholders)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {path: {m.upper() for m in ops} for path, ops in schema["paths"].items()}


def methods_for(pattern: str, declared: dict[str, set[str]]) -> list[str]:
    template = "/" + re.sub(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)", lambda m: "{" + (m[1] or m[2]) + "}", pattern)
    template = template.replace("^", "").replace("$", "")
    found = declared.get(template, set()) - {"HEAD", "OPTIONS", "TRACE"}
    return sorted(found | {"GET", "POST"})


def paths_for(pattern: str, user, ids: list[str], words: list[str]) -> list[str]:
    """Concrete paths to request. Django's admin refuses anyone who is not
    admin staff before it reads an id, so for them one id per admin route
    shows the refusal; admin staff get every id (numbers only: the admin's
    object ids are primary keys). Every other route gets every id and word."""
    if pattern.startswith("admin/"):
        if user is None or not user.is_staff:
            return fill(pattern, ids[:1], [])[:1]
        return fill(pattern, ids, [])
    return fill(pattern, ids, words)


def body_text(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode("utf-8", "replace")


def test_no_route_gives_anyone_health_data_they_may_not_see(matrix):
    subjects, users, health, identity, extra_ids = matrix
    ids = sorted({i for s in subjects.values() for i in s.ids} | set(extra_ids))
    words = ["A-1", "B-1", *(s.worker.employee_number for s in subjects.values()), "readings", "alerts"]
    declared = schema_methods()
    patterns = sorted(p for p in set(walk(get_resolver().url_patterns)) if not p.startswith(SKIPPED_PREFIXES))
    assert len(patterns) > 30
    requests = leaks = 0
    found = []
    for name, user in users.items():
        markers = forbidden_markers(name, subjects, health, identity)
        client = Client()
        for pattern in patterns:
            if user is not None:
                client.force_login(user)  # again: a route may have signed the user out
            for path in paths_for(pattern, user, ids, words):
                for method in methods_for(pattern, declared):
                    response = client.generic(method, path)
                    requests += 1
                    if response.status_code >= 500:
                        found.append(f"{name}: {method} {path} -> {response.status_code}")
                        continue
                    if response.get("Content-Type", "").startswith("image/"):
                        continue
                    text = body_text(response)
                    leaked = carried(markers, text)
                    if leaked:
                        leaks += 1
                        found.append(f"{name}: {method} {path} -> {response.status_code} carries {leaked}")
    print("\n".join(found))
    print(f"access matrix: {requests} requests, {len(users)} users, {len(patterns)} routes, {leaks} leaks")
    assert found == [], "\n".join(found)
    # The count the closing note reports; it moves with the routes.
    assert requests > 5_000


async def frames(comm: WebsocketCommunicator, seconds: float) -> list[dict]:
    """What the server sent within ``seconds`` (receive_output would cancel
    the consumer on its timeout; receive_nothing does not)."""
    await asyncio.sleep(seconds)
    got = []
    while not await comm.receive_nothing(timeout=0.05):
        got.append(await comm.receive_output())
    return got


def socket_paths(subjects: dict[str, Subject]) -> list[str]:
    consultations = [s.ids[3] for s in subjects.values()]
    return ["/ws/alerts/", "/ws/consultations/", "/ws/devices/v1/"] + [f"/ws/consultations/{c}/" for c in consultations]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_no_socket_pushes_anyone_health_data_they_may_not_see(matrix):
    subjects, users, health, identity, _ = await sync_to_async(lambda: matrix)()
    found = []
    delivered = set()
    for name, user in users.items():
        markers = forbidden_markers(name, subjects, health, identity)
        allowed = [subjects[s].alert_message for s in health.get(name, set())]
        for path in socket_paths(subjects):
            headers = [(b"origin", b"http://localhost")]
            if user is not None:
                headers.append((b"cookie", f"sessionid={await sync_to_async(session_of)(user)}".encode()))
            comm = WebsocketCommunicator(application, path, headers=headers)
            connected, _ = await comm.connect()
            closed = not connected
            if connected:
                for subject in subjects.values():
                    await sync_to_async(alert_apply)(
                        worker_id=subject.worker.pk,
                        evaluation=Evaluation.active("fall", Severity.URGENT, subject.alert_message),
                        now=datetime.now(UTC),
                    )
                for frame in await frames(comm, 0.3):
                    closed = closed or frame["type"] == "websocket.close"
                    text = str(frame)
                    if any(m in text for m in allowed):
                        delivered.add(name)
                    leaked = carried(markers, text)
                    if leaked:
                        found.append(f"{name} on {path} got {leaked}")
            if not closed:
                await comm.disconnect()
            await sync_to_async(_resolve_falls)()
    assert found == []
    # Those who may see the pushes got them: the test does see what a socket carries.
    assert delivered == {"alice", "charlie", "clara", "carl"}


def session_of(user) -> str:
    """A signed-in session, as a browser would present it."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _resolve_falls() -> None:
    from alerts.models import Alert

    Alert.objects.filter(kind="fall").update(status="resolved", resolved_at=timezone.now())


def test_a_number_is_found_as_itself_only():
    assert carried(["38.75"], "temperature 38.75 °C") == ["38.75"]
    assert carried(["38.75"], "at 12:38:38.750123") == []
    assert carried(["38.75"], "138.75 and 38.751") == []
    assert carried(["swollen-ankle-1"], "reason: swollen-ankle-1-7f3e") == ["swollen-ankle-1"]
