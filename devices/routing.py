from django.urls import path

from devices.consumers import DeviceConsumer

websocket_urlpatterns = [
    path("ws/devices/v1/", DeviceConsumer.as_asgi()),
]
