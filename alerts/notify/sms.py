"""Text messages (SMS, or KakaoTalk where the provider supports it) behind
one small interface: ``gateway().send(to, text)``.

Backends (settings.NOTIFY["SMS_BACKEND"]):
- ``logging``: writes the message to the log (the default, and the demo's);
- ``solapi``: SOLAPI's REST API (POST /messages/v4/send, HMAC-SHA256
  request signing), which sends a KakaoTalk notification ("alimtalk") when a
  KakaoTalk channel and template are configured, and an SMS otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime
from typing import Protocol

import requests
from django.conf import settings

log = logging.getLogger(__name__)


class SmsError(Exception):
    pass


class SmsGateway(Protocol):
    def send(self, to: str, text: str) -> None:
        """Hand the message to the provider; raise SmsError if it refused."""


class LoggingGateway:
    """Sends nothing: logs the message (the phone number shortened)."""

    def send(self, to: str, text: str) -> None:
        log.info("sms to …%s: %s", to[-4:], text)


class SolapiGateway:
    """SOLAPI (solapi.com) message API v4.

    Authorization: ``HMAC-SHA256 apiKey=<key>, date=<ISO 8601>, salt=<random>,
    signature=<hex HMAC-SHA256 of date + salt with the API secret>``; body
    ``{"message": {"to", "from", "text"[, "kakaoOptions"]}}``. An answer
    other than 2xx is an error (the message was not accepted).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        api_secret: str,
        sender: str,
        kakao_pf_id: str = "",
        kakao_template_id: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.api_secret = api_secret
        self.sender = sender
        self.kakao_pf_id = kakao_pf_id
        self.kakao_template_id = kakao_template_id
        self.timeout = timeout

    def authorization(self, now: datetime | None = None, salt: str | None = None) -> str:
        date = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        salt = salt or secrets.token_hex(16)
        signature = hmac.new(self.api_secret.encode(), (date + salt).encode(), hashlib.sha256).hexdigest()
        return f"HMAC-SHA256 apiKey={self.api_key}, date={date}, salt={salt}, signature={signature}"

    def send(self, to: str, text: str) -> None:
        message: dict = {"to": to, "from": self.sender, "text": text}
        if self.kakao_pf_id and self.kakao_template_id:
            # KakaoTalk first; SOLAPI falls back to SMS when it cannot deliver.
            message["kakaoOptions"] = {
                "pfId": self.kakao_pf_id,
                "templateId": self.kakao_template_id,
                "variables": {"#{message}": text},
            }
        try:
            response = requests.post(
                f"{self.base_url}/messages/v4/send",
                json={"message": message},
                headers={"Authorization": self.authorization()},
                timeout=self.timeout,
            )
        except OSError as exc:
            raise SmsError(f"SMS provider unreachable: {exc.__class__.__name__}") from None
        if not 200 <= response.status_code < 300:
            raise SmsError(f"SMS provider answered {response.status_code}: {response.text[:120]}")


def gateway() -> SmsGateway:
    conf = settings.NOTIFY
    backend = conf["SMS_BACKEND"]
    if backend == "logging":
        return LoggingGateway()
    if backend == "solapi":
        return SolapiGateway(
            base_url=conf["SOLAPI_URL"],
            api_key=conf["SOLAPI_API_KEY"],
            api_secret=conf["SOLAPI_API_SECRET"],
            sender=conf["SMS_SENDER"],
            kakao_pf_id=conf["KAKAO_PF_ID"],
            kakao_template_id=conf["KAKAO_TEMPLATE_ID"],
            timeout=conf["SEND_TIMEOUT_S"],
        )
    raise ValueError(f"unknown SMS_BACKEND {backend!r}")
