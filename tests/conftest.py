"""The fixed cast (healthchecks' Alice, Bob and Charlie):

alice: a worker at plant A, wearing device A-1
bob: alice's colleague at plant A
charlie: a worker at plant B
clara: clinician of plant A; carl: clinician of plant B
hana: HR of plant A; adam: site administrator of plant A
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from devices.services import device_provision
from tests.factories import DepartmentFactory, SiteFactory, WorkerFactory, staff
from tests.live import asgi_server  # noqa: F401  (a real server in a subprocess, for @pytest.mark.live tests)
from workers.services import consent_grant, consent_text_ensure


@pytest.fixture
def site_a(db):
    return SiteFactory(code="plant-a", name="Plant A")


@pytest.fixture
def site_b(db):
    return SiteFactory(code="plant-b", name="Plant B")


@pytest.fixture
def consent_text(db):
    """The consent text in force: version 1 from the data migration (made
    again when a transactional test has emptied the tables)."""
    return consent_text_ensure()


def consented(worker):
    """The cast's workers have agreed to monitoring, which needs consent."""
    consent_grant(worker=worker, text=consent_text_ensure())  # a transactional test may have emptied the tables
    return worker


@pytest.fixture
def alice(site_a, consent_text):
    return consented(WorkerFactory(user__username="alice", department=DepartmentFactory(site=site_a, name="Assembly")))


@pytest.fixture
def bob(alice):
    return consented(WorkerFactory(user__username="bob", department=alice.department))


@pytest.fixture
def charlie(site_b, consent_text):
    return consented(WorkerFactory(user__username="charlie", department=DepartmentFactory(site=site_b, name="Molding")))


@pytest.fixture
def clara(site_a):
    return staff("clara", "clinician", site_a)


@pytest.fixture
def carl(site_b):
    return staff("carl", "clinician", site_b)


@pytest.fixture
def hana(site_a):
    return staff("hana", "hr", site_a)


@pytest.fixture
def adam(site_a):
    return staff("adam", "site_admin", site_a, is_staff=True)


@pytest.fixture
def cast(alice, bob, charlie, clara, carl, hana, adam):
    """The cast by name, as the users who sign in."""
    return {
        "alice": alice.user,
        "bob": bob.user,
        "charlie": charlie.user,
        "clara": clara,
        "carl": carl,
        "hana": hana,
        "adam": adam,
    }


@pytest.fixture
def alice_device(alice):
    """(device, token) for alice's wearable."""
    return device_provision(serial="A-1", model="Band 3", worker=alice)


def api_as(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def celery_worker_mode(settings):
    """Tasks go to the real Celery worker when .ci/run provides one
    (PostgreSQL + Redis run); otherwise they run in-process. Tests using this
    must be transactional and wait for results rather than assume them."""
    from healthhub.celery import app

    if not settings.CELERY_WORKER_FOR_TESTS:
        yield False
        return
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    try:
        yield True
    finally:
        app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _flags_forgotten():
    """The flags a process remembers raising (healthhub.flags) live as long
    as the process; each test starts without them, as with a fresh cache."""
    from healthhub.flags import _raised

    _raised.forget()


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets a channel layer of its own: channels-redis keeps locks
    bound to the event loop that first used them, and every async test runs
    its own loop; the in-memory layer would otherwise carry groups over."""
    yield
    from channels.layers import channel_layers

    channel_layers.backends.clear()
