"""`sync` answers every message above `after`, also those this very socket already got live (a
client may clear its store and sync again without reconnecting); nothing twice within one sync."""

import pytest

from tests.messaging.sockets import open_socket
from tests.messaging.test_consumers import send_message

pytestmark = pytest.mark.django_db(transaction=True)


async def test_sync_resends_what_this_socket_already_received(alice, bob, direct):
    alice_socket, bob_socket = await open_socket(alice), await open_socket(bob)
    try:
        first = await send_message(alice_socket, direct, "one", client_id="a1")
        second = await send_message(alice_socket, direct, "two", client_id="a2")
        await bob_socket.expect("message.new")
        await bob_socket.expect("message.new")
        await bob_socket.send({"type": "sync", "after": 0})
        ids = [(await bob_socket.expect("message.new"))["message"]["id"] for _ in range(2)]
        done = await bob_socket.expect("sync.done")
        assert ids == [first["message"]["id"], second["message"]["id"]]
        assert done == {"type": "sync.done", "last": second["message"]["id"], "has_more": False}
        await bob_socket.nothing()
    finally:
        await alice_socket.close()
        await bob_socket.close()
