"""Schemathesis (v4) against the API's own schema, for every role: each
operation of ``/api/schema/`` gets generated requests (valid and invalid
input, random ids), sent through the Django application in-process (WSGI,
on the test database with the fixed cast), and every response must be no
server error and conform to the schema (documented status code, content
type, headers and body).

Slow (hypothesis examples per operation and role), so it runs in its own
invocation, as .ci/run does:

    HEALTHHUB_SCHEMATHESIS=1 python -m pytest -m schemathesis tests/schemathesis

Staff sign in as people do, with a password and an authenticator code
(the second factor is on here); the worker with a password alone.
``SCHEMATHESIS_EXAMPLES`` sets the examples per operation and mode (default 20).
The cases sent per role are printed at the end (conftest.py).
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import schemathesis
from allauth.mfa.totp.internal.auth import generate_totp_secret
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import policy
from alerts.rules.base import Evaluation, Severity
from alerts.services import alert_apply

pytestmark = [
    pytest.mark.schemathesis,
    pytest.mark.skipif(
        os.environ.get("HEALTHHUB_SCHEMATHESIS") != "1",
        reason="runs in its own invocation: HEALTHHUB_SCHEMATHESIS=1 pytest -m schemathesis tests/schemathesis",
    ),
]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
ROLES = ["anonymous", "worker", "clinician", "hr", "site_admin"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Cases sent per role, and failures, reported at the end of the session (conftest.py).
CASES: Counter[str] = Counter()
FAILURES: Counter[str] = Counter()


@dataclass
class Identity:
    role: str
    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def signed_in(username: str, *, second_factor: bool) -> Identity:
    """A session made by the real sign-in pages (and the code step for staff)."""
    client = Client()
    if second_factor:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username=username)
        secret = generate_totp_secret()
        policy.authenticator_app_enrol(user=user, secret=secret)
    response = client.post("/accounts/login/", {"username": username, "password": "pw"})
    assert response.status_code == 302, response.content[:300]
    if second_factor:
        response = client.post("/accounts/2fa/authenticate/", {"code": policy.totp_code(secret)})
        assert response.status_code == 302, response.content[:300]
    client.get("/api/schema/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    if not csrf:
        from django.middleware.csrf import _get_new_csrf_string

        csrf = _get_new_csrf_string()
    return Identity(
        role=username,
        cookies={"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf},
        headers={"X-CSRFToken": csrf},
    )


@pytest.fixture
def cast(db, settings, alice, bob, charlie, clara, carl, hana, adam):
    settings.HEALTHHUB_REQUIRE_MFA = True
    cache.clear()  # allauth's used codes and rate limits
    return {"alice": alice, "clara": clara, "hana": hana, "adam": adam}


@pytest.fixture
def identity(role, cast) -> Identity:
    if role == "anonymous":
        return Identity(role=role)
    username = {"worker": "alice", "clinician": "clara", "hr": "hana", "site_admin": "adam"}[role]
    identity = signed_in(username, second_factor=role != "worker")
    identity.role = role
    return identity


@contextmanager
def connection_kept_open():
    """As Django's own test client runs a request: the connection to the
    test database stays open between requests (it lives inside the test's
    transaction). Entered after the fixtures, whose test clients reconnect
    the signals when they finish."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(cast):
    client = Client()
    client.force_login(cast["alice"].user)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    loaded = schemathesis.openapi.from_dict(response.json())
    loaded.app = get_wsgi_application()
    return loaded


@pytest.fixture
def real_ids(cast, requested, alice_device) -> dict[str, object]:
    """Path parameters that exist, so that successful responses are checked
    too (random ids mostly find nothing: 404)."""
    alert = alert_apply(
        worker_id=cast["alice"].pk,
        evaluation=Evaluation.active("sos", Severity.CRITICAL, "SOS pressed"),
        now=timezone.now(),
    )
    return {
        "worker_id": cast["alice"].pk,
        "consultation_id": requested.pk,
        "alert_id": alert.pk,
        "serial": alice_device[0].serial,
    }


def run_operation(operation, identity: Identity, strategy, failures: list[str]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def check(case) -> None:
        CASES[identity.role] += 1
        response = case.call(headers=identity.headers, cookies=identity.cookies)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collect them all, then fail once with the list
            FAILURES[identity.role] += 1
            summary = " ".join(line.strip() for line in str(exc).splitlines()[2:5] if line.strip())
            failures.append(f"{operation.label} -> {response.status_code}: {summary}")

    check()


@pytest.mark.parametrize("role", ROLES)
def test_every_response_is_no_server_error_and_conforms_to_the_schema(role, identity, api_schema, real_ids):
    failures: list[str] = []
    with connection_kept_open():
        check_all_operations(api_schema, identity, real_ids, failures)
    assert not failures, "\n".join(sorted(set(failures)))


def check_all_operations(api_schema, identity: Identity, real_ids: dict, failures: list[str]) -> None:
    for result in api_schema.get_all_operations():
        operation = result.ok()
        known = {p.name: real_ids[p.name] for p in operation.path_parameters if p.name in real_ids}
        strategies = [
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        ]
        if known:
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
        for strategy in strategies:
            run_operation(operation, identity, strategy, failures)
