"""Chat is shown as written: each message keeps the language its sender
wrote in, and the page and the socket mark it."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse

from consultations import services
from consultations.models import Message
from tests.sockets import browser_socket
from workers.services import worker_language_set


def test_a_workers_message_carries_their_chosen_language(active, alice):
    worker_language_set(worker=alice, language="vi")
    alice.user.refresh_from_db()
    message, _ = services.message_send(
        consultation_id=active.pk, sender=alice.user, body="Tôi bị chóng mặt", language="ko"
    )
    assert message.language == "vi"


def test_a_clinicians_message_carries_the_language_of_their_page(active, clara):
    message, _ = services.message_send(consultation_id=active.pk, sender=clara, body="How long?", language="en")
    assert message.language == "en"
    message, _ = services.message_send(consultation_id=active.pk, sender=clara, body="얼마나요?", language=None)
    assert message.language == "ko"  # nothing asked for: the site default


def test_the_chat_marks_each_message_with_its_language(client, active, alice, clara):
    worker_language_set(worker=alice, language="vi")
    client.force_login(alice.user)
    url = reverse("consultations:detail", args=[active.pk])
    client.post(reverse("consultations:message", args=[active.pk]), {"body": "Tôi bị chóng mặt"})
    services.message_send(consultation_id=active.pk, sender=clara, body="Since when?", language="en")
    assert [m.language for m in Message.objects.order_by("pk")] == ["vi", "en"]

    client.force_login(clara)
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<span class="lang-tag" lang="vi" title="Tiếng Việt">VI</span>' in page
    assert '<p class="body" lang="vi">Tôi bị chóng mặt</p>' in page
    assert '<span class="lang-tag" lang="en" title="English">EN</span>' in page


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_socket_message_carries_the_language_the_browser_asked_for(active, clara):
    comm = browser_socket(f"/ws/consultations/{active.pk}/", clara)
    comm.scope["headers"] = [*comm.scope["headers"], (b"accept-language", b"vi-VN,vi;q=0.9,en;q=0.5")]
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "message", "body": "Bạn thấy thế nào?", "ref": "c-1"})
    while (frame := await comm.receive_json_from(timeout=3))["type"] != "message":
        pass
    assert frame["message"]["language"] == "vi" and frame["message"]["language_name"] == "Tiếng Việt"
    stored = await database_sync_to_async(Message.objects.get)(client_ref="c-1")
    assert stored.language == "vi"
    await comm.disconnect()
