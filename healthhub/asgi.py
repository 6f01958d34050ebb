"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Devices authenticate with their own token (no cookies, no Origin header), so
their route does not go through the session stack; browser sockets go
through AllowedHostsOriginValidator(AuthMiddlewareStack(...)).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthhub.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.middleware import SocketSafetyMiddleware  # noqa: E402
from alerts.routing import websocket_urlpatterns as alert_routes  # noqa: E402
from consultations.routing import websocket_urlpatterns as consultation_routes  # noqa: E402
from devices.routing import websocket_urlpatterns as device_routes  # noqa: E402
from healthhub.collector import gc_tune  # noqa: E402
from healthhub.metrics import OPEN_SOCKETS  # noqa: E402

# Browser sockets: the session identifies the user, and the Origin must be
# one of ALLOWED_HOSTS (no cross-site WebSocket hijacking); staff without the
# second factor, and expired sessions, are closed with 4403 before any consumer.
browser_app = AllowedHostsOriginValidator(
    AuthMiddlewareStack(SocketSafetyMiddleware(URLRouter(alert_routes + consultation_routes)))
)
device_app = URLRouter(device_routes)


def _socket_kind(path: str) -> str:
    """devices, alerts or consultations: the second part of /ws/<kind>/..."""
    parts = path.strip("/").split("/")
    return parts[1] if len(parts) > 1 and parts[1] in {"devices", "alerts", "consultations"} else "other"


async def websocket_app(scope, receive, send):
    app = device_app if scope["path"].startswith("/ws/devices/") else browser_app
    # Open sockets by kind (healthhub.metrics): counted from the accept the
    # consumer sends until the connection's application returns.
    gauge = OPEN_SOCKETS.labels(kind=_socket_kind(scope["path"]))
    accepted = False

    async def counting_send(message):
        nonlocal accepted
        if message["type"] == "websocket.accept" and not accepted:
            accepted = True
            gauge.inc()
        await send(message)

    try:
        return await app(scope, receive, counting_send)
    finally:
        if accepted:
            gauge.dec()


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_app,
    }
)

if settings.EMBEDDED_BEAT:
    from healthhub.dispatch import start_embedded_beat

    start_embedded_beat()

# Everything is loaded: the collector need not walk it again (healthhub.collector).
gc_tune()
