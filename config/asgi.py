"""The ASGI application (`config.asgi:application`): HTTP through Django, WebSocket through Channels.

Browsers' sockets are origin-checked against ALLOWED_HOSTS; a client without an `Origin` header
(not a browser) passes the origin check and must then authenticate by token.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from core.asgi import get_threaded_asgi_application

# HTTP: Django's handler with the middleware stack and the view in one thread per request
# (core.asgi explains why; HUDDLE_ASGI_HANDLER=django gives Django's own, for comparison).
if os.environ.get("HUDDLE_ASGI_HANDLER") == "django":
    from django.core.asgi import get_asgi_application

    django_asgi_app = get_asgi_application()
else:
    django_asgi_app = get_threaded_asgi_application()

from asgiref.local import Local
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.cache import caches

from accounts.socket_auth import SocketAuthMiddlewareStack
from core.origin import BrowserOriginValidator
from messaging.routing import websocket_urlpatterns

# One cache client per thread, as Django gives sync code, not one per asyncio context: Django keeps
# its caches in a context-local, so every socket's first cache call from a worker thread (its
# presence count) made a client of its own (a django-redis client and a redis-py client, about 15
# KiB) and kept it in the socket's context for the socket's life. (Django's own override_settings
# resets the handler the same way.)
caches._connections = Local(thread_critical=True)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(SocketAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
