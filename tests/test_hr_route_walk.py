"""HR must never reach an individual's health data by any route. This walks
every URL pattern of the project and every WebSocket route as an HR user
of the worker's own site, with every kind of id a route could take, and
checks that no response carries anything of the worker's."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest
from channels.testing import WebsocketCommunicator
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from alerts.rules.base import Evaluation, Severity
from alerts.services import alert_apply
from consultations import services as consult
from devices.models import Reading
from healthhub.asgi import application
from workers.models import AccessLog, CheckIn
from workers.names import person_name

# Distinctive values that appear nowhere but in alice's health data.
HEART_RATE = 173.25
TEMPERATURE = 38.65
REASON = "swollen-left-ankle-7f3e"


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


@pytest.fixture
def alice_data(alice, alice_device, clara):
    device, _ = alice_device
    Reading.objects.create(
        device=device, worker=alice, metric="heart_rate", value=HEART_RATE,
        measured_at=timezone.now(), received_at=timezone.now(),
    )  # fmt: skip
    CheckIn.objects.create(
        worker=alice, day=timezone.now().date(), temperature=TEMPERATURE, cough=True, submitted_at=timezone.now()
    )
    alert = alert_apply(
        worker_id=alice.pk,
        evaluation=Evaluation.active("hypoxemia", Severity.WARNING, "Blood oxygen is low", spo2=HEART_RATE),
        now=datetime.now(UTC),
    )
    objects = [alice, device, alert]
    objects.append(consult.consultation_request(worker=alice, reason=REASON, urgency="soon"))
    AccessLog.objects.create(accessor=clara, worker=alice, what="readings")
    return objects


def markers(alice) -> list[str]:
    return [alice.employee_number, person_name(alice.user), str(HEART_RATE), str(TEMPERATURE), REASON]


def test_no_url_gives_hr_anything_of_a_workers(client, alice_data, alice, hana, bob):
    client.force_login(hana)
    ids = sorted({str(obj.pk) for obj in alice_data} | {str(bob.pk)})
    words = [alice_data[1].serial, alice.employee_number, "readings", "alerts", "checkins"]
    patterns = sorted(set(walk(get_resolver().url_patterns)))
    assert len(patterns) > 20
    checked = 0
    for pattern in patterns:
        if pattern.startswith(("static/", "admin/jsi18n")) or "__debug__" in pattern:
            continue
        for path in fill(pattern, ids, words):
            for method in ("get", "post"):
                client.force_login(hana)  # again: a route may have signed HR out (logout)
                response = getattr(client, method)(path)
                checked += 1
                if response.status_code != 200 or response.get("Content-Type", "").startswith("image/"):
                    continue
                body = b"".join(response.streaming_content) if response.streaming else response.content
                text = body.decode("utf-8", "replace")
                leaked = [m for m in markers(alice) if m in text]
                assert not leaked, f"HR got {leaked} from {method.upper()} {path}"
    assert checked > 100


def socket_paths(alice_data) -> list[str]:
    return ["/ws/alerts/", "/ws/devices/v1/", f"/ws/consultations/{alice_data[-1].pk}/"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_no_socket_accepts_hr(alice_data, hana):
    for path in socket_paths(alice_data):
        comm = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
        comm.scope["user"] = hana
        connected, _ = await comm.connect()
        if connected:
            # a device socket accepts first and closes with its code: nothing else may arrive
            output = await comm.receive_output(timeout=2)
            assert output["type"] == "websocket.close", f"HR received {output} on {path}"
        await comm.disconnect()
