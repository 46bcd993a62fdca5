"""The store's effects in the chat page, in real browsers: buying a sticker pack on /store/ and
sending a sticker that the friend sees live as a picture; gifts shown as a card on both sides (one
given in the store, one sent from the chat's "Gifts" picker), with the recipient's notice; the
sticker picker's way to the store when nothing is owned."""

import re

import pytest
from django.urls import Resolver404, resolve
from playwright.sync_api import Page, expect

from coins.services import promotion_grant
from messaging.conversations import conversation_direct_open
from store.demo import seed_store_catalog
from store.models import Entitlement, Item
from store.services import purchase_create, vip_renew
from tests.browser.pages import message_items, messages, open_conversation, send
from tests.factories import UserFactory, make_friends

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

MESSAGE_ID = re.compile(r"^\d+$")


def _route_exists(path: str) -> bool:
    """A named route (unknown paths under /api/ reach the unnamed JSON 404 view)."""
    try:
        return resolve(path).url_name is not None
    except Resolver404:
        return False


CHAT_GIFTS = _route_exists("/api/v1/conversations/1/gifts")


@pytest.fixture
def friends():
    """Alice (with 200 coins) and Bob, friends with a direct conversation; the catalog seeded."""
    seed_store_catalog()
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    make_friends(alice, bob)
    conversation_direct_open(user=alice, number=bob.number)
    promotion_grant(user=alice, amount=200, reason="Welcome bonus")
    return alice, bob


def sticker_items(page: Page, name: str):
    """The listitems of "Messages" showing the sticker picture named `name`."""
    return messages(page).get_by_role("listitem").filter(has=page.get_by_role("img", name=name, exact=True))


def sticker_panel(page: Page):
    return page.get_by_role("dialog", name="Stickers")


def test_buy_a_sticker_pack_in_the_store_and_send_a_sticker_the_friend_sees_live(people, friends):
    alice, bob = friends
    bob_page = people.open(bob)
    open_conversation(bob_page, "Alice")

    # given Alice in the store, with coins
    alice_page = people.open(alice, path="/store/")
    expect(alice_page.get_by_role("heading", name="Store", level=1)).to_be_visible()
    expect(alice_page.get_by_role("link", name="Store")).to_have_attribute("aria-current", "page")
    # when she buys the "Happy Faces" pack
    alice_page.get_by_role("button", name="Buy Happy Faces").click()
    expect(alice_page.locator(".flash")).to_contain_text("You bought Happy Faces.")
    expect(alice_page.locator("#item-stickers-faces")).to_contain_text("Owned")

    # and goes to the chat, opens the sticker picker and picks "laugh"
    alice_page.get_by_role("link", name="Chat").click()
    expect(alice_page.get_by_role("status", name="Connection", include_hidden=True)).to_have_text("Connected")
    open_conversation(alice_page, "Bob")
    alice_page.get_by_role("button", name="Stickers").click()
    panel = sticker_panel(alice_page)
    expect(panel).to_be_visible()
    expect(panel.get_by_role("heading", name="Happy Faces")).to_be_visible()
    expect(panel.get_by_role("heading", name="Cute Animals")).to_have_count(0)  # not owned
    panel.get_by_role("button", name="laugh", exact=True).click()

    # then the picker closes, the sticker is sent (acknowledged) and shown as its picture
    expect(panel).to_be_hidden()
    mine = sticker_items(alice_page, "laugh")
    expect(mine).to_have_count(1)
    expect(mine).to_have_attribute("data-message-id", MESSAGE_ID)
    expect(mine).not_to_contain_text("Sending…")
    # and Bob's page shows the same picture live, from the catalog
    theirs = sticker_items(bob_page, "laugh")
    expect(theirs).to_have_count(1)
    image = theirs.get_by_role("img", name="laugh")
    expect(image).to_have_attribute("src", re.compile(r"/static/store/stickers/laugh[.\w]*\.svg$"))
    assert image.evaluate("img => img.complete && img.naturalWidth > 0"), "the sticker picture did not load"
    # the conversation list's preview says what it is
    expect(bob_page.get_by_role("list", name="Conversations")).to_contain_text("[Sticker]")


def test_the_sticker_picker_without_packs_points_to_the_store_and_a_pack_taken_back_is_refused(
    people, friends
):
    alice, _bob = friends
    page = people.open(alice)
    open_conversation(page, "Bob")
    page.get_by_role("button", name="Stickers").click()
    panel = sticker_panel(page)
    expect(panel).to_contain_text("You have no sticker packs yet.")
    expect(panel.get_by_role("link", name="Get sticker packs in the store")).to_have_attribute(
        "href", "/store/"
    )
    # Escape closes it and gives the focus back to the button
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.get_by_role("button", name="Stickers")).to_be_focused()

    # given a pack bought (while the page is open: the picker's catalog is refreshed by the event)
    purchase_create(buyer=alice, sku="stickers-animals", quantity=None, gift_to=None, idempotency_key="pack")
    page.reload()
    open_conversation(page, "Bob")
    page.get_by_role("button", name="Stickers").click()
    expect(panel.get_by_role("heading", name="Cute Animals")).to_be_visible()
    # when the pack is taken back (say, refunded) before she picks a sticker
    Entitlement.objects.filter(user=alice, item__sku="stickers-animals").update(quantity=0)
    panel.get_by_role("button", name="panda", exact=True).click()
    # then the send is refused with a clear message and a Retry
    failed = messages(page).get_by_role("listitem").filter(has_text="Not sent")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("You do not own this sticker pack. Get it in the store.")
    expect(failed.get_by_role("button", name="Retry")).to_be_visible()


def test_a_gift_given_in_the_store_shows_a_notice_and_a_card_on_both_sides(people, friends):
    alice, bob = friends
    bob_page = people.open(bob, phone=True)
    alice_page = people.open(alice, path="/store/")

    # when Alice gives Bob a rose from the store
    rose = alice_page.locator("#item-gift-rose")
    rose.get_by_role("combobox", name="Friend").select_option(str(bob.number))
    rose.get_by_role("button", name="Gift Rose to a friend").click()
    expect(alice_page.locator(".flash")).to_contain_text("You gave Rose to Bob.")

    # then Bob's phone tells him at once, even on the conversation list
    notices = bob_page.get_by_role("status", name="Store notices")
    expect(notices).to_contain_text("Alice sent you Rose.")
    # and the conversation shows the gift card with its picture
    open_conversation(bob_page, "Alice")
    card = messages(bob_page).get_by_role("listitem").filter(has_text="Alice sent you Rose")
    expect(card).to_have_count(1)
    expect(card.locator(".gift-card img")).to_have_attribute("src", re.compile(r"gift-rose[.\w]*\.svg$"))
    # and Alice's chat shows it as sent by her
    alice_page.goto("/")
    open_conversation(alice_page, "Bob")
    expect(messages(alice_page).get_by_role("listitem").filter(has_text="You sent Rose")).to_have_count(1)


@pytest.mark.skipif(
    not CHAT_GIFTS, reason="no gift endpoint in conversations yet (POST conversations/<id>/gifts)"
)
def test_a_gift_sent_from_the_chat_shows_a_card_on_both_sides(people, friends):
    alice, bob = friends
    purchase_create(buyer=alice, sku="gift-cake", quantity=2, gift_to=None, idempotency_key="cakes")
    bob_page = people.open(bob)
    open_conversation(bob_page, "Alice")
    alice_page = people.open(alice)
    open_conversation(alice_page, "Bob")

    # when Alice opens "Gifts" and sends one of her two cakes
    alice_page.get_by_role("button", name="Gifts").click()
    panel = alice_page.get_by_role("dialog", name="Gifts")
    expect(panel).to_be_visible()
    panel.get_by_role("button", name=re.compile(r"^Send Birthday cake \(2 left\)")).click()

    # then both pages show the card
    mine = messages(alice_page).get_by_role("listitem").filter(has_text="You sent Birthday cake")
    expect(mine).to_have_count(1)
    expect(mine).to_have_attribute("data-message-id", MESSAGE_ID)
    theirs = messages(bob_page).get_by_role("listitem").filter(has_text="Alice sent you Birthday cake")
    expect(theirs).to_have_count(1)
    expect(theirs.locator(".gift-card img")).to_be_visible()
    # and one cake is left
    assert Entitlement.objects.get(user=alice, item=Item.objects.get(sku="gift-cake")).quantity == 1
    alice_page.get_by_role("button", name="Gifts").click()
    last_cake = panel.get_by_role("button", name=re.compile(r"^Send Birthday cake \(1 left\)"))
    expect(last_cake).to_be_visible()

    # when the last cake is gone meanwhile (given elsewhere), sending it says so and sends nothing
    people.tolerate(r"status of 403 .*/gifts")
    Entitlement.objects.filter(user=alice, item__sku="gift-cake").update(quantity=0)
    last_cake.click()
    expect(alice_page.get_by_role("alert")).to_have_text(
        "You have none of this gift left. Buy more in the store."
    )
    expect(
        messages(bob_page).get_by_role("listitem").filter(has_text="sent you Birthday cake")
    ).to_have_count(1)


@pytest.mark.skipif(not _route_exists("/api/v1/store/style"), reason="no store/style endpoint yet")
def test_the_store_page_chooses_the_look_in_chat_and_the_friend_sees_it(people, friends):
    alice, bob = friends
    for sku in ("bubble-ocean", "name-crimson"):
        purchase_create(buyer=alice, sku=sku, idempotency_key=sku)
    page = people.open(alice, path="/store/", phone=True)

    # the store page shows what she wears now (the bubble and colour she acquired last)
    look = page.get_by_role("region", name="Your look in chat")
    expect(look).to_be_visible()
    bubbles = look.get_by_role("group", name="Chat bubble")
    expect(bubbles.get_by_role("radio", name="Ocean bubble")).to_be_checked()
    expect(
        look.get_by_role("group", name="Name colour").get_by_role("radio", name="Crimson name")
    ).to_be_checked()
    # when she takes the standard bubble and keeps the crimson name
    bubbles.get_by_role("radio", name="Standard").check()
    look.get_by_role("button", name="Save style").click()
    expect(look.get_by_role("status")).to_have_text("Saved. Your next messages carry this style.")
    page.reload()
    expect(bubbles.get_by_role("radio", name="Standard")).to_be_checked()

    # then her next message shows the crimson name and no coloured bubble on Bob's side
    bob_page = people.open(bob)
    open_conversation(bob_page, "Alice")
    page.goto("/")
    open_conversation(page, "Bob")
    send(page, "plain bubble")
    theirs = message_items(bob_page, "plain bubble")
    expect(theirs).to_have_count(1)
    expect(theirs.locator(".msg-author-name")).to_have_css("color", "rgb(220, 38, 38)")
    expect(theirs.locator(".bubble")).not_to_have_class(re.compile(r"\bstyled\b"))

    # and with the ocean bubble again, the bubble is blue with readable text
    page.goto("/store/")
    bubbles.get_by_role("radio", name="Ocean bubble").check()
    look.get_by_role("button", name="Save style").click()
    expect(look.get_by_role("status")).to_have_text("Saved. Your next messages carry this style.")
    page.goto("/")
    open_conversation(page, "Bob")
    send(page, "ocean bubble")
    theirs = message_items(bob_page, "ocean bubble")
    expect(theirs.locator(".bubble")).to_have_css("background-color", "rgb(59, 130, 246)")
    expect(theirs.locator(".msg-body")).to_have_css("color", "rgb(31, 41, 51)")
    expect(theirs.locator(".vip-badge")).to_have_count(0)  # not a VIP


def test_vip_renewed_and_lapsed_are_told_on_the_chat_page(people, friends):
    alice, _bob = friends
    promotion_grant(user=alice, amount=400, reason="Top up")  # 600: one month and one renewal
    purchase_create(buyer=alice, sku="vip-month", idempotency_key="vip")
    membership = Entitlement.objects.get(user=alice, item__sku="vip-month")
    page = people.open(alice, phone=True)
    notices = page.get_by_role("status", name="Store notices")

    # when the renewal task renews her membership, she is told with the new end
    assert vip_renew(entitlement_id=membership.pk, now=membership.expires_at) == "renewed"
    expect(notices).to_contain_text("Your VIP membership was renewed until")
    # and when the next one finds too few coins, she is told it lapsed
    membership.refresh_from_db()
    assert vip_renew(entitlement_id=membership.pk, now=membership.expires_at) == "lapsed"
    expect(notices).to_contain_text("Your VIP membership was not renewed: your wallet held too few coins.")
    # a notice can be dismissed
    notices.get_by_role("button", name="Dismiss").first.click()
    expect(notices.get_by_role("button", name="Dismiss")).to_have_count(1)
