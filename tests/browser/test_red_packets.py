"""Red packets in the chat, in real browsers: sending from the composer's "Red packet" dialog, the
red card in the conversation, claiming from its dialog, the claims shown live to the sender, "All
taken" for a latecomer, a direct-chat packet sent with a double click (one packet), and the send
dialog's field errors that move no money. With HUDDLE_RED_PACKET_SHOTS=<folder> the test also saves
screenshots there (desk and phone, English and Simplified Chinese)."""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, Route, expect

from coins.audit import ledger_report
from coins.ledger import wallet_balance
from coins.services import promotion_grant
from messaging.conversations import conversation_direct_open, conversation_group_create
from redpackets.models import RedPacket
from redpackets.services import red_packet_expire, red_packet_send
from tests.browser.pages import messages, open_conversation, translated
from tests.factories import UserFactory, make_friends

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SHOTS = os.environ.get("HUDDLE_RED_PACKET_SHOTS")
YOU_GOT = re.compile(r"You got (\d+) coins?!")


def shoot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.evaluate("document.fonts.ready")
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), animations="disabled")


def cards(page: Page) -> Locator:
    """The red-packet cards in "Messages" (buttons named "Open red packet")."""
    return messages(page).get_by_role("button", name="Open red packet")


def balance(page: Page) -> Locator:
    return page.get_by_label("Balance")


def send_dialog(page: Page) -> Locator:
    page.get_by_role("button", name="Red packet", exact=True).click()
    dialog = page.get_by_role("dialog", name="Red packet", exact=True)
    expect(dialog).to_be_visible()
    return dialog


def fill_packet(
    dialog: Locator, *, total: int, count: int | None = None, mode: str | None = None, greeting: str = ""
) -> None:
    dialog.get_by_role("spinbutton", name="Total coins").fill(str(total))
    if count is not None:
        dialog.get_by_role("spinbutton", name="Number of shares").fill(str(count))
    if mode is not None:
        dialog.get_by_role("radio", name=mode).check()
    if greeting:
        dialog.get_by_role("textbox", name="Greeting").fill(greeting)


def open_card(page: Page, sender_name: str) -> Locator:
    cards(page).last.click()
    dialog = page.get_by_role("dialog", name=f"Red packet from {sender_name}")
    expect(dialog).to_be_visible()
    return dialog


def claim(page: Page, sender_name: str) -> int:
    """Open the newest card, press "Claim", and return the amount the dialog says was won."""
    dialog = open_card(page, sender_name)
    dialog.get_by_role("button", name="Claim").click()
    result = dialog.get_by_role("status")
    expect(result).to_have_text(YOU_GOT)
    return int(YOU_GOT.search(result.inner_text()).group(1))


def test_two_of_four_claim_a_random_packet_live_and_the_fourth_finds_it_all_taken(people):
    # given Alice with 100 coins in a group of four
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    carol = UserFactory(username="carol", display_name="Carol")
    dave = UserFactory(username="dave", display_name="Dave")
    for friend in (bob, carol, dave):
        make_friends(alice, friend)
    conversation_group_create(
        user=alice, title="Family 家人", member_numbers=[bob.number, carol.number, dave.number]
    )
    promotion_grant(user=alice, amount=100)
    alice_page = people.open(alice)
    bob_page = people.open(bob)
    carol_page = people.open(carol, phone=True)
    for page in (alice_page, bob_page, carol_page):
        open_conversation(page, "Family 家人")
    expect(balance(alice_page)).to_have_text("100")

    # when she sends a random packet of 10 coins in 2 shares
    dialog = send_dialog(alice_page)
    expect(dialog).to_contain_text("Your balance: 100 coins")
    fill_packet(dialog, total=10, count=2, mode="Random amounts", greeting="恭喜发财 Good luck")
    shoot(alice_page, "send-dialog-desktop-en")
    dialog.get_by_role("button", name="Send red packet").click()
    expect(dialog).to_have_count(0)

    # then everyone sees its red card, the coins left her wallet, and its shares wait
    for page in (alice_page, bob_page, carol_page):
        expect(cards(page)).to_have_count(1)
        card_item = (
            messages(page)
            .get_by_role("listitem")
            .filter(has=page.get_by_role("button", name="Open red packet"))
        )
        expect(card_item).to_contain_text("Red packet")
        expect(card_item).to_contain_text("恭喜发财 Good luck")
    expect(cards(alice_page)).to_have_accessible_description(re.compile(r"恭喜发财 Good luck.*2 of 2 left"))
    expect(cards(bob_page)).to_have_accessible_description(re.compile("Open to claim"))
    # money hangs on it: no edit, no recall
    packet_item = (
        messages(alice_page)
        .get_by_role("listitem")
        .filter(has=alice_page.get_by_role("button", name="Open red packet"))
    )
    expect(packet_item.get_by_role("button", name="Message actions")).to_have_count(0)
    expect(balance(alice_page)).to_have_text("90")
    shoot(bob_page, "card-desktop-en")

    # Bob claims; Alice's card counts down live, and her open dialog lists the claims as they come
    bob_amount = claim(bob_page, "Alice")
    shoot(bob_page, "claimed-desktop-en")
    expect(cards(alice_page)).to_have_accessible_description(re.compile("1 of 2 left"))
    alice_dialog = open_card(alice_page, "Alice")
    expect(alice_dialog.get_by_role("status")).to_have_text(
        "You sent this red packet; it is for the others in the group."
    )
    alice_claims = alice_dialog.get_by_role("list", name="Claims").get_by_role("listitem")
    expect(alice_claims).to_have_count(1)
    expect(alice_claims).to_contain_text("Bob")
    expect(alice_dialog.get_by_role("button", name="Claim")).to_have_count(0)

    carol_amount = claim(carol_page, "Alice")
    shoot(carol_page, "claimed-phone-en")
    expect(alice_claims).to_have_count(2)
    expect(alice_claims.filter(has_text="Carol")).to_contain_text(f"{carol_amount} coin")
    expect(alice_claims.filter(has_text="Bob")).to_contain_text(f"{bob_amount} coin")
    # once every share is taken, the luckiest is marked (ties: the first claim)
    luckiest = "Bob" if bob_amount >= carol_amount else "Carol"
    expect(alice_dialog.get_by_text("Luckiest")).to_have_count(1)
    expect(alice_claims.filter(has_text="Luckiest")).to_contain_text(luckiest)
    expect(alice_dialog).to_contain_text("All taken")
    shoot(alice_page, "claims-desktop-en")
    alice_dialog.get_by_role("button", name="Close").click()
    expect(cards(alice_page)).to_have_accessible_description(re.compile("All taken"))

    # the amounts are whole coins, at least 1 each, summing to the total; the wallets agree
    assert bob_amount >= 1 and carol_amount >= 1
    assert bob_amount + carol_amount == 10
    expect(balance(bob_page)).to_have_text(str(bob_amount))
    assert wallet_balance(bob) == bob_amount
    assert wallet_balance(carol) == carol_amount
    assert wallet_balance(alice) == 90

    # Dave, the fourth member, comes late: all taken, nothing to claim
    dave_page = people.open(dave)
    open_conversation(dave_page, "Family 家人")
    expect(cards(dave_page)).to_have_accessible_description(re.compile("All taken"))
    dave_dialog = open_card(dave_page, "Alice")
    expect(dave_dialog.get_by_role("status")).to_have_text("All taken: every share has been claimed.")
    expect(dave_dialog.get_by_role("button", name="Claim")).to_have_count(0)
    expect(dave_dialog.get_by_role("list", name="Claims").get_by_role("listitem")).to_have_count(2)
    assert wallet_balance(dave) == 0

    # reopening a claimed packet shows your own amount
    bob_page.reload()
    open_conversation(bob_page, "Family 家人")
    expect(cards(bob_page)).to_have_accessible_description(re.compile(f"You got {bob_amount} coin"))
    assert ledger_report().ok


def test_a_direct_packet_sent_with_a_double_click_is_sent_once_and_claimed(people):
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    make_friends(alice, bob)
    conversation_direct_open(user=alice, number=bob.number)
    promotion_grant(user=alice, amount=50)
    alice_page = people.open(alice, phone=True)
    bob_page = people.open(bob)
    open_conversation(alice_page, "Bob")
    open_conversation(bob_page, "Alice")

    # a direct chat's dialog asks only for the amount and a greeting (one share, for the other person)
    dialog = send_dialog(alice_page)
    expect(dialog.get_by_role("spinbutton", name="Number of shares")).to_have_count(0)
    fill_packet(dialog, total=8, greeting="Lunch is on me")
    shoot(alice_page, "send-dialog-phone-en")
    dialog.get_by_role("button", name="Send red packet").dblclick()
    expect(dialog).to_have_count(0)
    expect(cards(bob_page)).to_have_count(1)
    expect(cards(alice_page)).to_have_count(1)
    assert RedPacket.objects.count() == 1
    assert wallet_balance(alice) == 42

    # Bob claims it all; Alice's card says so live
    assert claim(bob_page, "Alice") == 8
    expect(balance(bob_page)).to_have_text("8")
    expect(cards(alice_page)).to_have_accessible_description(re.compile("Claimed"))
    own = open_card(alice_page, "Alice")
    expect(own.get_by_role("status")).to_have_text("You sent this red packet.")
    expect(own.get_by_role("list", name="Claims")).to_contain_text("8 coins")
    shoot(alice_page, "direct-claims-phone-en")
    own.get_by_role("button", name="Close").click()
    # her balance, as the page shows it, went down by the packet
    alice_page.get_by_role("button", name="Back").click()
    expect(balance(alice_page)).to_have_text("42")
    assert wallet_balance(alice) == 42 and wallet_balance(bob) == 8
    assert ledger_report().ok


def test_the_send_dialog_shows_field_errors_and_moves_no_money(people):
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    carol = UserFactory(username="carol", display_name="Carol")
    make_friends(alice, bob)
    make_friends(alice, carol)
    conversation_group_create(user=alice, title="Trio", member_numbers=[bob.number, carol.number])
    promotion_grant(user=alice, amount=30)
    # the refused POSTs below are logged by the browser itself
    people.tolerate(r"status of (400|409) .*/conversations/\d+/red-packets")
    page = people.open(alice)
    open_conversation(page, "Trio")
    dialog = send_dialog(page)
    total = dialog.get_by_role("spinbutton", name="Total coins")
    shares = dialog.get_by_role("spinbutton", name="Number of shares")
    send = dialog.get_by_role("button", name="Send red packet")

    # more shares than people who can claim: the server's field error, under "Number of shares"
    fill_packet(dialog, total=10, count=5)
    send.click()
    expect(shares).to_have_attribute("aria-invalid", "true")
    expect(shares).to_have_accessible_description(re.compile("At most 2"))
    expect(total).to_have_attribute("aria-invalid", "false")
    shoot(page, "field-error-desktop-en")

    # more coins than the wallet holds: under "Total coins"
    fill_packet(dialog, total=31, count=2)
    send.click()
    expect(total).to_have_attribute("aria-invalid", "true")
    expect(total).to_have_accessible_description(re.compile("Not enough coins: you have 30 coins"))
    expect(shares).to_have_attribute("aria-invalid", "false")

    # equal amounts that do not divide: caught in the page
    fill_packet(dialog, total=7, count=2, mode="Equal amounts")
    send.click()
    expect(total).to_have_accessible_description(re.compile("must divide by 2"))

    # nothing was sent, no coin moved
    expect(dialog).to_be_visible()
    expect(cards(page)).to_have_count(0)
    expect(balance(page)).to_have_text("30")
    assert RedPacket.objects.count() == 0
    assert wallet_balance(alice) == 30

    # corrected, the same dialog sends (a fresh key: the refused attempts do not replay)
    fill_packet(dialog, total=8, count=2)
    send.click()
    expect(dialog).to_have_count(0)
    expect(cards(page)).to_have_count(1)
    expect(balance(page)).to_have_text("22")
    assert RedPacket.objects.get().total == 8


@pytest.mark.parametrize("language", ["en", "zh"])
def test_red_packet_screenshots(people, language):
    """The dialogs and cards in both languages on a desk and a phone (saved only with
    HUDDLE_RED_PACKET_SHOTS=<folder>; the walk through them always runs)."""
    alice = UserFactory(username="alice", display_name="Alice Chen")
    bob = UserFactory(username="xiaoming", display_name="王小明")
    carol = UserFactory(username="carol", display_name="Carol")
    make_friends(alice, bob)
    make_friends(alice, carol)
    conversation_group_create(
        user=alice, title="周末徒步 Weekend hikers", member_numbers=[bob.number, carol.number]
    )
    promotion_grant(user=alice, amount=200)
    locale = "zh-CN" if language == "zh" else "en-US"
    t = lambda text: translated(language, text, javascript=True)  # noqa: E731
    for size in ("desktop", "phone"):
        page = people.open(alice, locale=locale, phone=size == "phone")
        open_conversation(page, "周末徒步 Weekend hikers", language)
        page.get_by_role("button", name=t("Red packet"), exact=True).click()
        dialog = page.get_by_role("dialog", name=t("Red packet"), exact=True)
        dialog.get_by_role("spinbutton", name=t("Total coins")).fill("20")
        dialog.get_by_role("textbox", name=t("Greeting")).fill("新年快乐!")
        shoot(page, f"send-{size}-{language}")
        dialog.get_by_role("button", name=t("Send red packet")).click()
        expect(dialog).to_have_count(0)
        packets = messages(page, language).get_by_role("button", name=t("Open red packet"))
        expect(packets).to_have_count(1 if size == "desktop" else 2)
        shoot(page, f"card-{size}-{language}")
        packets.last.click()
        expect(page.get_by_role("dialog")).to_be_visible()
        shoot(page, f"open-{size}-{language}")


def test_an_expired_packet_shows_expired_live_and_its_rest_goes_back(people):
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    carol = UserFactory(username="carol", display_name="Carol")
    make_friends(alice, bob)
    make_friends(alice, carol)
    group = conversation_group_create(user=alice, title="Trio", member_numbers=[bob.number, carol.number])
    promotion_grant(user=alice, amount=20)
    packet = red_packet_send(
        sender=alice, conversation_id=group.pk, total=10, count=2, mode="equal", greeting="Hurry"
    )
    alice_page = people.open(alice)
    bob_page = people.open(bob)
    open_conversation(alice_page, "Trio")
    open_conversation(bob_page, "Trio")
    assert claim(bob_page, "Alice") == 5
    expect(cards(alice_page)).to_have_accessible_description(re.compile("1 of 2 left"))
    expect(balance(alice_page)).to_have_text("10")

    # when a day passes and the expiry task returns the rest
    red_packet_expire(red_packet_id=packet.pk, now=timezone.now() + timedelta(hours=25))

    # then the sender's card says so live, and her balance shows the 5 coins back
    expect(cards(alice_page)).to_have_accessible_description(re.compile("Expired"))
    expect(balance(alice_page)).to_have_text("15")
    own = open_card(alice_page, "Alice")
    expect(own).to_contain_text("Expired: 5 coins went back to Alice.")
    # Carol, who had not claimed, finds it expired with nothing to claim; Bob keeps his share
    carol_page = people.open(carol)
    open_conversation(carol_page, "Trio")
    expect(cards(carol_page)).to_have_accessible_description(re.compile("Expired"))
    late = open_card(carol_page, "Alice")
    expect(late.get_by_role("status")).to_have_text("This red packet has expired.")
    expect(late.get_by_role("button", name="Claim")).to_have_count(0)
    shoot(carol_page, "expired-desktop-en")
    assert wallet_balance(alice) == 15 and wallet_balance(bob) == 5 and wallet_balance(carol) == 0
    assert ledger_report().ok


def test_a_send_whose_answer_is_lost_is_retried_with_the_same_key_and_sends_once(people):
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    make_friends(alice, bob)
    conversation_direct_open(user=alice, number=bob.number)
    promotion_grant(user=alice, amount=50)
    people.tolerate(r"net::ERR_FAILED")
    page = people.open(alice)
    open_conversation(page, "Bob")
    keys: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.fetch()  # the server sends the packet...
            route.abort()  # ...but its answer never reaches the page
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/conversations/\d+/red-packets$"), lose_the_first_answer)
    dialog = send_dialog(page)
    fill_packet(dialog, total=12, greeting="Once only")
    dialog.get_by_role("button", name="Send red packet").click()
    expect(dialog.get_by_role("alert")).to_have_text(re.compile("Cannot reach Huddle"))
    assert RedPacket.objects.count() == 1  # it was sent, the page does not know yet

    # pressing again retries with the same key: the server answers as the first time
    dialog.get_by_role("button", name="Send red packet").click()
    expect(dialog).to_have_count(0)
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    expect(cards(page)).to_have_count(1)
    expect(balance(page)).to_have_text("38")
    assert RedPacket.objects.count() == 1
    assert wallet_balance(alice) == 38
