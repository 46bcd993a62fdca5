"""WebSocket routes (the consumer at /ws/ arrives with the messaging issue)."""

websocket_urlpatterns: list = []
