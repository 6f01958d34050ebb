"""The one command line that starts healthhub's ASGI server outside the
image: the demo, the live and fault tests and the benches all build it here,
so that a flag that matters everywhere is set once.

The image's CMD (Dockerfile) is the same server with the same
``--no-proxy-headers`` (tests/accounts/test_lockout_bypass.py checks both).
"""

from __future__ import annotations

import sys


def uvicorn_command(
    *,
    host: str,
    port: int,
    workers: int = 1,
    graceful_shutdown_s: int = 3,
    log_level: str = "warning",
    extra: tuple[str, ...] | list[str] = (),
) -> list[str]:
    """argv for ``uvicorn healthhub.asgi:application`` with this Python."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "healthhub.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--lifespan",
        "off",  # Django's ASGI handler does not speak lifespan
        # The client address is REMOTE_ADDR unless TRUSTED_PROXIES says otherwise
        # (accounts.client_address); uvicorn would believe X-Forwarded-For from 127.0.0.1.
        "--no-proxy-headers",
        "--no-access-log",
        "--log-level",
        log_level,
        "--timeout-graceful-shutdown",
        str(graceful_shutdown_s),
        *extra,
    ]
