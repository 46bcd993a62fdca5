"""WebSocket routes: the one socket at /ws/ (CONTRACT section 7)."""

from django.urls import path

from messaging.consumers import ChatConsumer

websocket_urlpatterns: list = [path("ws/", ChatConsumer.as_asgi())]
