"""What a person finds on the chat page, by the accessible names of static/js/chat/README.md."""

import gettext
import re
from functools import cache
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"


@cache
def _catalog(language: str, domain: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(domain, localedir=LOCALE_DIR, languages=["zh_Hans"])


def translated(language: str, text: str, *, javascript: bool = False) -> str:
    """`text` as the page shows it in `language` ("en" or "zh"): from the templates' catalog, or
    the chat scripts' one (djangojs)."""
    return _catalog(language, "djangojs" if javascript else "django").gettext(text)


def language_of(locale: str) -> str:
    return "zh" if locale.lower().startswith("zh") else "en"


def connection_status(page: Page, language: str = "en", *, include_hidden: bool = False) -> Locator:
    return page.get_by_role("status", name=translated(language, "Connection"), include_hidden=include_hidden)


def messages(page: Page, language: str = "en") -> Locator:
    return page.get_by_role("list", name=translated(language, "Messages"))


def message_items(page: Page, text: str, language: str = "en") -> Locator:
    """The listitems of "Messages" that show `text`."""
    return messages(page, language).get_by_role("listitem").filter(has=page.get_by_text(text, exact=True))


def conversation_button(page: Page, title: str, language: str = "en") -> Locator:
    """The button of a conversation in "Conversations" (its name starts with the title)."""
    return (
        page.get_by_role("list", name=translated(language, "Conversations"))
        .get_by_role("listitem")
        # "/" escaped too: Playwright writes the pattern into a /.../ selector
        .get_by_role("button", name=re.compile("^" + re.escape(title).replace("/", r"\/")))
    )


def open_conversation(page: Page, title: str, language: str = "en") -> None:
    conversation_button(page, title, language).click()
    expect(page.get_by_role("heading", name=title, level=2, exact=True)).to_be_visible()


def send(page: Page, text: str) -> None:
    """Type `text` in the composer and press "Send"; it is then shown, sent (not pending)."""
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send").click()
    mine = message_items(page, text)
    expect(mine).to_have_count(1)
    expect(mine).not_to_contain_text("Sending…")
    expect(mine).to_have_attribute("data-message-id", re.compile(r"^\d+$"))
