"""The server restarts under an open chat page: the page says it is reconnecting, comes back by
itself, and shows what was said meanwhile exactly once (its own daphne: this module stops it)."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from messaging.conversations import conversation_direct_open
from messaging.models import Message
from messaging.services import message_send
from tests.browser.pages import connection_status, message_items, open_conversation, send
from tests.conftest import token_for
from tests.factories import UserFactory, make_friends

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

# Every text the connection status shows, in order (polling could miss a short "Reconnecting…").
RECORD_STATUS = """(status) => {
    window.statusSeen = [];
    new MutationObserver(() => window.statusSeen.push(status.textContent.trim())).observe(
        status, {childList: true, characterData: true, subtree: true});
}"""


def post_message(server, token: str, conversation_id: int, body: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/v1/conversations/{conversation_id}/messages",
        data=json.dumps({"body": body}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http://127.0.0.1 above)
        assert response.status == 201


def test_after_a_server_restart_the_page_reconnects_and_shows_each_message_once(people, server):
    # the browser logs the refused reconnections and the refused send while the server is down
    people.tolerate(r"WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|Failed to load resource")
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    make_friends(alice, bob)
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    bob_token = token_for(bob)
    page = people.open(alice)
    open_conversation(page, "Bob")
    post_message(server, bob_token, direct.pk, "Before the restart")
    expect(message_items(page, "Before the restart")).to_have_count(1)
    status = connection_status(page)
    status.evaluate(RECORD_STATUS)

    # when the server stops
    server.stop()

    # then the page says it is reconnecting (and never that it is connected while it is not)
    page.wait_for_function("() => window.statusSeen.includes('Reconnecting…')")
    assert set(page.evaluate("window.statusSeen")) <= {"Reconnecting…", "Offline"}, page.evaluate(
        "window.statusSeen"
    )
    # meanwhile Bob says something (straight to the database: the server is down) and Alice tries to
    message_send(sender=bob, conversation_id=direct.pk, body="Said while the server was down")
    page.get_by_role("textbox", name="Message").fill("Written while the server was down")
    page.get_by_role("button", name="Send").click()
    unsent = message_items(page, "Written while the server was down")
    expect(unsent).to_contain_text(re.compile("Not sent|Sending…"))

    # when the server is back (and Bob posts again before the page's backoff has reconnected it)
    server.start()
    post_message(server, bob_token, direct.pk, "Said as the server came back")

    # then the page reconnects by itself and shows each message exactly once
    expect(status).to_have_text("Connected", timeout=45_000)
    for text in ("Before the restart", "Said while the server was down", "Said as the server came back"):
        expect(message_items(page, text)).to_have_count(1)
    # Alice's unsent message is sent (by itself or with "Retry"), once
    retry = unsent.get_by_role("button", name="Retry")
    if retry.count():
        retry.click()
    expect(unsent).to_have_count(1)
    expect(unsent).to_have_attribute("data-message-id", re.compile(r"^\d+$"))
    assert Message.objects.filter(conversation=direct, body="Written while the server was down").count() == 1
    # and the socket is live again both ways
    post_message(server, bob_token, direct.pk, "Live again")
    expect(message_items(page, "Live again")).to_have_count(1)
    send(page, "Good to have you back")
    page.wait_for_timeout(500)  # a late duplicate would show up by now
    for text in ("Said while the server was down", "Said as the server came back", "Live again"):
        expect(message_items(page, text)).to_have_count(1)
