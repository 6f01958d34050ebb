from django.urls import path

from consultations.consumers import ConsultationConsumer, ConsultationListConsumer

websocket_urlpatterns = [
    path("ws/consultations/", ConsultationListConsumer.as_asgi()),
    path("ws/consultations/<int:consultation_id>/", ConsultationConsumer.as_asgi()),
]
