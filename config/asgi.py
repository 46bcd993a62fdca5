"""The ASGI application (`config.asgi:application`): HTTP through Django, WebSocket through Channels.

Browsers' sockets are origin-checked against ALLOWED_HOSTS; a client without an `Origin` header
(not a browser) passes the origin check and must then authenticate by token.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.socket_auth import SocketAuthMiddlewareStack  # noqa: E402
from core.origin import BrowserOriginValidator  # noqa: E402
from messaging.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(SocketAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
