"""Browser sockets in tests, opened as a browser opens them: with the
session cookie of a signed-in user (accounts.sockets binds every browser
socket to its session, so a user merely put in the scope is refused)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from healthhub.asgi import application


def signed_in(user) -> Client:
    """A test client signed in as ``user`` (its cookie is the session)."""
    client = Client()
    client.force_login(user)
    return client


def _in_thread(function, *args):
    # Async tests call this from the event loop's thread, where Django
    # refuses database work; a short-lived thread does it (the tests using
    # sockets are transactional, so what it commits is seen everywhere).
    def run():
        try:
            return function(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def session_key_of(user) -> str:
    """A new signed-in session for ``user``; its key."""
    return _in_thread(lambda: signed_in(user).cookies["sessionid"].value)


def browser_socket(path: str, user=None, *, origin: bytes = b"http://localhost", session_key: str | None = None):
    """A communicator for ``path`` with a fresh session of ``user`` (or the
    given ``session_key``; anonymous with neither)."""
    headers = [(b"origin", origin)]
    if session_key is None and user is not None:
        session_key = session_key_of(user)
    if session_key is not None:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)
