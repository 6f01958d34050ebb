from __future__ import annotations

import pytest

from alerts.notify.push import vapid_keys_generate
from tests.alerts.push_receiver import PushService


@pytest.fixture
def vapid(settings):
    private, public = vapid_keys_generate()
    settings.NOTIFY = {**settings.NOTIFY, "VAPID_PRIVATE_KEY": private, "VAPID_PUBLIC_KEY": public}
    return public


@pytest.fixture
def push_service(vapid):
    service = PushService(vapid)
    yield service
    service.close()
