"""A local Web Push service for tests: an HTTP server on 127.0.0.1 that
plays the push service's part (RFC 8030), checks the VAPID signature
(RFC 8292) and decrypts each message as the browser would (RFC 8291,
aes128gcm, with http_ece), so the real encryption path is exercised."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    payload: dict
    vapid_claims: dict
    at: float  # time.monotonic() when it arrived


@dataclass
class Browser:
    """One subscribed browser: its key pair and auth secret, as a
    PushManager subscription holds them."""

    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)


class PushService:
    """Answers ``status`` to every push; keeps what it decrypted."""

    def __init__(self, vapid_public_key: str) -> None:
        self.vapid_public_key = vapid_public_key
        self.browsers: dict[str, Browser] = {}
        self.received: list[Received] = []
        self.status = 201
        self.requests = 0
        self.event = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                service.requests += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if service.status >= 300:
                    self.send_response(service.status)
                    self.end_headers()
                    return
                browser = service.browsers[self.path]
                claims = service.check_vapid(self.headers["Authorization"])
                plain = http_ece.decrypt(
                    body, private_key=browser.private_key, auth_secret=browser.auth_secret, version="aes128gcm"
                )
                service.received.append(
                    Received(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        json.loads(plain),
                        claims,
                        time.monotonic(),
                    )
                )
                service.event.set()
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def subscribe(self, name: str) -> tuple[str, Browser]:
        path = f"/push/{name}"
        self.browsers[path] = Browser()
        return f"http://127.0.0.1:{self.server.server_port}{path}", self.browsers[path]

    def check_vapid(self, authorization: str) -> dict:
        """``vapid t=<JWT>, k=<public key>``: the key is ours and the ES256
        signature holds."""
        scheme, _, params = authorization.partition(" ")
        assert scheme == "vapid"
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        assert parts["k"] == self.vapid_public_key
        header, claims, signature = parts["t"].split(".")
        raw = b64url_decode(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(parts["k"]))
        try:
            key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise AssertionError("bad VAPID signature") from None
        return json.loads(b64url_decode(claims))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
