"""The sign-in lockout cannot be side-stepped: a client's own
X-Forwarded-For is not its address unless a trusted proxy wrote it
(accounts.client_address), and a username is counted as sign-in matches it,
whatever its case (accounts.adapters.lockout_username)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory

from accounts.client_address import client_address


def post_login(client: Client, username: str, password: str = "wrong", **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def test_a_spoofed_forwarded_for_does_not_reset_the_lockout(client, alice):
    for n in range(5):
        post_login(client, "alice", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    response = post_login(client, "alice", "pw", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


@pytest.mark.parametrize("spelling", ["Alice", "ALICE", " alice ", "ａｌｉｃｅ"])
def test_usernames_are_counted_as_sign_in_matches_them(client, alice, spelling):
    for name in ["alice", "Alice", "ALICE", "aLiCe"]:
        post_login(client, name)
    post_login(client, spelling)
    assert list(AccessAttempt.objects.values_list("username", "failures_since_start")) == [("alice", 5)]
    assert post_login(client, "alice", "pw").status_code == 429
    assert post_login(client, "ALICE", "pw").status_code == 429


def test_a_locked_out_spelling_locks_out_every_spelling(client, alice):
    for _ in range(5):
        post_login(client, "ALICE")
    assert post_login(client, "alice", "pw").status_code == 429


# -- the address, behind trusted proxies ----------------------------------------------------


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(request("192.0.2.10", "203.0.113.5")) == "192.0.2.10"


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        # The proxy appended the client it saw; the client's own entry is left of it.
        ("10.0.0.2", "6.6.6.6, 203.0.113.5", "203.0.113.5"),
        ("10.0.0.2", "203.0.113.5", "203.0.113.5"),
        # Two trusted hops (a load balancer in front of the proxy).
        ("10.0.0.2", "6.6.6.6, 203.0.113.5, 10.0.0.3", "203.0.113.5"),
        # Not from a trusted proxy: the header is the client's own word.
        ("198.51.100.9", "203.0.113.5", "198.51.100.9"),
        # From the proxy without a header, or with garbage in it.
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "not an address", "10.0.0.2"),
        # Ports and IPv6.
        ("10.0.0.2", "203.0.113.5:4711", "203.0.113.5"),
        ("10.0.0.2", "[2001:db8::1]:4711", "2001:db8::1"),
    ],
)
def test_behind_trusted_proxies_the_nearest_untrusted_address_counts(settings, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert client_address(request(remote, forwarded)) == expected


def test_behind_a_trusted_proxy_clients_are_locked_out_separately(client, settings, alice):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    for _ in range(5):
        post_login(client, "alice", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    assert post_login(client, "alice", "pw", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5").status_code == 429
    assert post_login(client, "alice", "pw", HTTP_X_FORWARDED_FOR="203.0.113.77")["Location"] == "/"


# -- the servers we start leave X-Forwarded-For to the application ----------------------------
# uvicorn's default (--proxy-headers, trusting 127.0.0.1) rewrites REMOTE_ADDR
# from the header before Django sees it: a client on the same machine, or
# behind a proxy on it, would choose its own address again.


def test_the_demo_server_does_not_believe_forwarded_headers(monkeypatch):
    from simulation.management.commands import demo

    started: list[list[str]] = []
    monkeypatch.setattr(demo.subprocess, "Popen", lambda command, **kwargs: started.append(command))
    demo.Command()._start_server("127.0.0.1", 8000)
    [command] = started
    assert "--no-proxy-headers" in command and "--proxy-headers" not in command


def test_the_production_image_does_not_believe_forwarded_headers():
    from django.conf import settings

    cmd = [line for line in (settings.BASE_DIR / "Dockerfile").read_text().splitlines() if line.startswith("CMD")]
    assert len(cmd) == 1 and "uvicorn" in cmd[0]
    assert '"--no-proxy-headers"' in cmd[0] and '"--proxy-headers"' not in cmd[0]


def test_every_server_we_start_comes_from_one_command_line():
    """The demo, the live and fault tests and the benches start uvicorn
    through healthhub.serve, so the flag above cannot be missed by one."""
    from django.conf import settings

    from healthhub.serve import uvicorn_command

    command = uvicorn_command(host="127.0.0.1", port=8000, workers=2, extra=("--backlog", "64"))
    assert "--no-proxy-headers" in command and "--proxy-headers" not in command
    assert command[command.index("--workers") + 1] == "2" and command[-2:] == ["--backlog", "64"]
    needle = '"healthhub.asgi' + ':application"'  # not spelt whole here, or this file would count
    builders = sorted(
        str(path.relative_to(settings.BASE_DIR))
        for path in settings.BASE_DIR.rglob("*.py")
        if not {".venv", "var"} & set(path.parts) and needle in path.read_text()
    )
    assert builders == ["healthhub/serve.py"]
