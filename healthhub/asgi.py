"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Devices authenticate with their own token (no cookies, no Origin header), so
their route does not go through the session stack; browser sockets, when
added, go through AllowedHostsOriginValidator(AuthMiddlewareStack(...)).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthhub.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from devices.routing import websocket_urlpatterns as device_routes  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(device_routes),
    }
)
