"""Per-connection queue and event without asyncio's fixed costs.

An idle socket keeps a few asyncio objects for its whole life that are almost always empty: an
`asyncio.Queue` allocates three deques and an `asyncio.Event` (with a deque of its own) up front,
about 3 KiB; an `asyncio.Event` about 0.8 KiB. The two classes here keep the same semantics for
what the server and the channel layer use of them, and allocate only while something waits.
Used by core.channel_layer (a queue per channel) and core.websocket_protocol (uvicorn's per
connection queue and flow-control event).
"""

import asyncio
from collections import deque
from typing import Any


class LightQueue:
    """An unbounded FIFO with asyncio.Queue's `put_nowait`, `get`, `get_nowait`, `empty` and
    `qsize` (getters served first come, first served; a cancelled getter passes its wake-up on),
    holding a deque only while items wait and a list only while getters wait (an idle socket's
    consumer always waits: one future in a short list)."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: deque | None = None
        self._getters: list[asyncio.Future] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        items = self._items
        if items is None:
            items = self._items = deque()
        items.append(item)
        self._wake_next()

    def get_nowait(self) -> Any:
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        item = items.popleft()
        if not items:
            self._items = None
        return item

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            getters = self._getters
            if getters is None:
                getters = self._getters = []
            getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()  # in case it was woken: the wake goes to the next getter
                if getter in getters:
                    getters.remove(getter)
                if not getters and self._getters is getters:
                    self._getters = None
                if self._items and not getter.cancelled():
                    self._wake_next()
                raise
        return self.get_nowait()

    def _wake_next(self) -> None:
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break
        if not getters:
            self._getters = None


class LightEvent:
    """asyncio.Event's `set`, `clear`, `is_set` and `wait`, with its waiters' list made only while
    someone waits."""

    __slots__ = ("_value", "_waiters")

    def __init__(self, value: bool = False) -> None:
        self._value = value
        self._waiters: list[asyncio.Future] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        waiters = self._waiters
        waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            if waiter in waiters:
                waiters.remove(waiter)
