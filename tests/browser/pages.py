"""What a person finds on the chat page, by the accessible names of static/js/chat/README.md."""

import re

from playwright.sync_api import Locator, Page, expect


def connection_status(page: Page) -> Locator:
    return page.get_by_role("status", name="Connection")


def messages(page: Page) -> Locator:
    return page.get_by_role("list", name="Messages")


def message_items(page: Page, text: str) -> Locator:
    """The listitems of "Messages" that show `text`."""
    return messages(page).get_by_role("listitem").filter(has=page.get_by_text(text, exact=True))


def conversation_button(page: Page, title: str) -> Locator:
    """The button of a conversation in "Conversations" (its name starts with the title)."""
    return (
        page.get_by_role("list", name="Conversations")
        .get_by_role("listitem")
        # "/" escaped too: Playwright writes the pattern into a /.../ selector
        .get_by_role("button", name=re.compile("^" + re.escape(title).replace("/", r"\/")))
    )


def open_conversation(page: Page, title: str) -> None:
    conversation_button(page, title).click()
    expect(page.get_by_role("heading", name=title, level=2, exact=True)).to_be_visible()


def send(page: Page, text: str) -> None:
    """Type `text` in the composer and press "Send"; it is then shown, sent (not pending)."""
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send").click()
    mine = message_items(page, text)
    expect(mine).to_have_count(1)
    expect(mine).not_to_contain_text("Sending…")
    expect(mine).to_have_attribute("data-message-id", re.compile(r"^\d+$"))
