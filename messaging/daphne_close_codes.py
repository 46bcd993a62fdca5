"""Let the socket consumer close with the protocol's own codes under daphne.

The contract closes a socket with 1003 (binary frame), 1007 (invalid UTF-8), 1009 (text frame
over 64 KiB) and 1011 (channel layer down). daphne passes an application's close code to
autobahn's `sendClose`, which only accepts 1000 and 3000-4999 and otherwise raises, and daphne
then closes with 1011 whatever was asked. autobahn's own `sendCloseFrame` (which `sendClose`
calls after that check, and daphne uses itself for 1011) sends any code; this routes the RFC 6455
codes a server may send through it.
Installed from MessagingConfig.ready(); a no-op where daphne is not installed.
"""

# RFC 6455 section 7.4.1 codes an endpoint may send (1004-1006 and 1015 are reserved).
PROTOCOL_CODES = frozenset({1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})


def install() -> None:
    try:
        from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
    except ImportError:  # pragma: no cover - daphne is a dependency
        return
    _close_invalid_frames_with_a_code(WebSocketFactory)
    if getattr(WebSocketProtocol.serverClose, "huddle_patched", False):
        return
    original = WebSocketProtocol.serverClose

    def server_close(self, code: int | None = None) -> None:
        if code in PROTOCOL_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            original(self, code=code)

    server_close.huddle_patched = True  # type: ignore[attr-defined]
    WebSocketProtocol.serverClose = server_close


def _close_invalid_frames_with_a_code(factory_class: type) -> None:
    """autobahn fails a connection on invalid UTF-8 (1007) or an oversized message (1009) by
    dropping TCP unless `failByDrop` is off (the client sees 1006): turn it off so the close frame
    with the code is sent, as the contract says."""
    if getattr(factory_class.__init__, "huddle_patched", False):
        return
    original = factory_class.__init__

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        self.setProtocolOptions(failByDrop=False)

    init.huddle_patched = True  # type: ignore[attr-defined]
    factory_class.__init__ = init
