# ruff: noqa: RUF001 (Chinese punctuation in Chinese text)
"""Screenshots of the main pages (chat, login, settings, wallet) on a desk and on a phone, in English
and Simplified Chinese (chosen by the browser's Accept-Language), each page checked for its
essentials first. With HUDDLE_SCREENSHOTS=1 they are written to docs/screenshots/ as
<page>-<desktop|phone>-<en|zh>.png; otherwise to a temporary folder, so a CI run changes no file."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from coins.services import promotion_grant, transfer_create
from messaging.conversations import conversation_direct_open, conversation_group_create
from messaging.services import conversation_read, message_send
from store.demo import seed_store_catalog
from store.services import purchase_create
from tests.browser.pages import conversation_button, message_items, open_conversation, translated
from tests.factories import UserFactory, make_friends

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LOCALES = {"en": "en-US", "zh": "zh-CN"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    if os.environ.get("HUDDLE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        return DOCS
    return tmp_path


def a_lived_in_account():
    """Alice, with friends in two buddy groups, a direct chat and a group chat, and some coins."""
    alice = UserFactory(username="alice", display_name="Alice Chen", signature="Weekend hiker")
    bob = UserFactory(username="xiaoming", display_name="王小明", signature="周末去爬山")
    carol = UserFactory(username="carol", display_name="Carol Smith")
    wei = UserFactory(username="wei", display_name="张伟")
    make_friends(alice, bob)
    make_friends(alice, carol)
    make_friends(alice, wei, group="Classmates")
    group = conversation_group_create(
        user=alice, title="周末徒步 Weekend hikers", member_numbers=[bob.number, carol.number]
    )
    message_send(sender=carol, conversation_id=group.pk, body="Who's bringing the map?")
    message_send(sender=bob, conversation_id=group.pk, body="我带地图！")
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    said = [
        (bob, "Are we still on for Saturday?"),
        (alice, "Yes! 周六早上八点见"),
        (bob, "太好了，我带水和零食。"),
        (alice, "Perfect — see you at the trailhead.\nDon't forget sunscreen ☀️"),
    ]
    for sender, body in said:
        last, _ = message_send(sender=sender, conversation_id=direct.pk, body=body)
    conversation_read(user=bob, conversation_id=direct.pk, up_to=last.pk)
    message_send(
        sender=wei,
        conversation_id=conversation_direct_open(user=wei, number=alice.number)[0].pk,
        body="明天见",
    )
    promotion_grant(user=alice, amount=520, reason="Welcome bonus")
    transfer_create(sender=alice, to_number=bob.number, amount=20, memo="午饭 lunch", idempotency_key="lunch")
    seed_store_catalog()
    promotion_grant(user=alice, amount=100, reason="Store credit")
    purchase_create(buyer=alice, sku="stickers-faces", idempotency_key="faces")  # 30
    purchase_create(buyer=alice, sku="name-violet", idempotency_key="violet")  # 40
    purchase_create(buyer=alice, sku="gift-rose", quantity=6, idempotency_key="roses")  # 30: 500 left
    return alice, direct


@pytest.mark.parametrize("language", ["en", "zh"])
def test_screenshots_of_the_main_pages(people, folder, language):
    alice, _ = a_lived_in_account()
    t = lambda text: translated(language, text)  # noqa: E731
    locale = LOCALES[language]
    count = translated(language, "%(count)s unread", javascript=True)
    unread = re.compile(re.escape(count).replace(re.escape("%(count)s"), r"\d+"))
    for size in ("desktop", "phone"):
        phone = size == "phone"

        def shoot(page: Page, name: str, size: str = size) -> None:
            expect(page.locator("html")).to_have_attribute("lang", "zh-hans" if language == "zh" else "en")
            page.evaluate("document.fonts.ready")
            page.screenshot(path=folder / f"{name}-{size}-{language}.png", animations="disabled")

        # the chat, with the direct conversation open
        page = people.open(alice, phone=phone, locale=locale)
        open_conversation(page, "王小明", language)
        expect(message_items(page, "太好了，我带水和零食。", language)).to_be_visible()
        expect(page.get_by_role("list", name=t("Messages"))).to_be_visible()
        expect(page.get_by_role("textbox", name=t("Message"))).to_be_visible()
        if not phone:
            expect(page.get_by_role("list", name=t("Conversations"))).to_be_visible()
            expect(page.get_by_label(t("Balance"))).to_have_text("500")
            # the open conversation is read: its unread count goes
            expect(conversation_button(page, "王小明", language)).not_to_contain_text(unread)
        shoot(page, "chat")

        page.goto("/settings/")
        expect(page.get_by_role("heading", name=t("Settings"), level=1)).to_be_visible()
        shoot(page, "settings")

        page.goto("/wallet/")
        expect(page.get_by_label(t("Balance"))).to_have_text("500")
        shoot(page, "wallet")

        page.goto("/store/")
        expect(page.get_by_role("heading", name=t("Store"), level=1)).to_be_visible()
        expect(page.locator("#item-stickers-faces")).to_contain_text(t("Owned"))
        shoot(page, "store")

        # the login page, for someone not logged in
        page = people.anonymous(phone=phone, locale=locale)
        page.goto("/login/")
        expect(page.get_by_role("button", name=t("Log in"))).to_be_visible()
        shoot(page, "login")
