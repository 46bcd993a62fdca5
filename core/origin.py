"""Origin check for WebSocket handshakes (cross-site WebSocket hijacking).

Browsers always send `Origin`, and send cookies on cross-site sockets, so a browser's socket must
come from one of ALLOWED_HOSTS. Channels' AllowedHostsOriginValidator also refuses a socket with no
`Origin` at all; the contract lets non-browser clients (which authenticate by token) omit it, so
here a missing `Origin` passes and the consumer's authentication decides.
"""

from typing import Any

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    def __init__(self, application: Any):
        super().__init__(application, allowed_origins=[])

    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True
        self.allowed_origins = settings.ALLOWED_HOSTS
        return self.validate_origin(parsed_origin)
