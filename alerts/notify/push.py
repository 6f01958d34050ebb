"""Web Push (RFC 8030) with VAPID (RFC 8292) and message encryption
(RFC 8291, aes128gcm), through pywebpush. The keys come from the
environment (settings.NOTIFY["VAPID_*"]); without them push is off."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
from django.conf import settings
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush


class PushError(Exception):
    """A push the service did not take; ``gone`` when the subscription no
    longer exists (404/410) and should be forgotten."""

    def __init__(self, detail: str, *, gone: bool = False) -> None:
        super().__init__(detail)
        self.gone = gone


@dataclass(frozen=True)
class PushTarget:
    endpoint: str
    p256dh: str
    auth: str


def push_enabled() -> bool:
    conf = settings.NOTIFY
    return bool(conf["VAPID_PRIVATE_KEY"] and conf["VAPID_PUBLIC_KEY"])


def vapid_keys_generate() -> tuple[str, str]:
    """A new key pair as (private, public), both base64url: the private key
    as DER (what VAPID_PRIVATE_KEY takes), the public key as the uncompressed
    point browsers take as applicationServerKey (VAPID_PUBLIC_KEY)."""
    from cryptography.hazmat.primitives import serialization

    vapid = Vapid02()
    vapid.generate_keys()
    der = vapid.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    point = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _b64url(der), _b64url(point)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def push_send(target: PushTarget, payload: dict, *, ttl: int = 3600, urgency: str = "high") -> None:
    """Encrypt ``payload`` (JSON) for the subscription and post it to its
    push service; raises PushError when the service refuses it."""
    conf = settings.NOTIFY
    origin = urlsplit(target.endpoint)
    try:
        webpush(
            subscription_info={"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}},
            data=orjson.dumps(payload).decode(),
            vapid_private_key=conf["VAPID_PRIVATE_KEY"],
            # The audience is the push service's origin (RFC 8292 section 2).
            vapid_claims={"sub": conf["VAPID_SUBJECT"], "aud": f"{origin.scheme}://{origin.netloc}"},
            ttl=ttl,
            timeout=conf["SEND_TIMEOUT_S"],
            headers={"Urgency": urgency},
        )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        raise PushError(f"push service answered {status}", gone=status in (404, 410)) from None
    except OSError as exc:  # refused, reset, timed out (requests' errors are OSErrors)
        raise PushError(f"push service unreachable: {exc.__class__.__name__}") from None
