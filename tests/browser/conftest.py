"""Browser tests: Debian's Chromium, driven by Playwright's sync API, against a real daphne on the
test database (PostgreSQL) and the test's Redis.

Each module gets one daphne and one browser; each person gets a browser context of their own (their
own cookies and socket). Data a test creates must be committed for daphne to see it, hence
`django_db(transaction=True)` in every module. Playwright's sync API keeps an event loop in this
thread, so Django refuses ORM calls here unless DJANGO_ALLOW_ASYNC_UNSAFE is set: it is, while these
modules run only (PITFALLS, playwright-pytest#29). A console error, an uncaught page error or a
JavaScript dialog (alert, confirm, prompt) fails the test that caused it."""

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page, expect, sync_playwright

from accounts.models import User
from tests.browser.pages import connection_status, language_of, translated
from tests.factories import PASSWORD
from tests.messaging.processes import free_port, start_daphne, stop

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 15_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright() -> Iterator[None]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(_orm_beside_playwright: None) -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
        )
        yield browser
        browser.close()


class LiveServer:
    """A daphne on a fixed port against the test database, which a test may stop and start again.
    It shares this process's SECRET_KEY, so sessions made here (`session_for`) log people in there."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = start_daphne(
            self.port,
            SECRET_KEY=settings.SECRET_KEY,
            RATE_LIMITS='{"messages": "1000/second", "actions": "1000/second"}',
        )

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@pytest.fixture(scope="module")
def server(django_db_setup: None) -> Iterator[LiveServer]:
    live = LiveServer()
    live.start()
    yield live
    live.stop()


def session_for(user: User) -> str:
    """A logged-in browser session for `user`, stored where daphne reads sessions (the database)."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


_QUICK_HASH: list[str] = []


def give_password_daphne_checks(user: User) -> None:
    """The test process hashes passwords with MD5 (tests/conftest.py), which daphne's settings do not
    accept: store PBKDF2 with few iterations instead (daphne verifies it, then upgrades it)."""
    if not _QUICK_HASH:
        _QUICK_HASH.append(PBKDF2PasswordHasher().encode(PASSWORD, "browsertests", iterations=1000))
    user.password = _QUICK_HASH[0]
    user.save(update_fields=["password"])


@dataclass
class Person:
    name: str
    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)


class People:
    """Opens the site as someone in a fresh browser context and watches it for errors."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.browser, self.server = browser, server
        self.opened: list[Person] = []
        # Chromium asks for /favicon.ico by itself; the site has none yet (a 404 no page code made).
        self.tolerated: list[re.Pattern[str]] = [re.compile(r"status of 404 .*/favicon\.ico")]

    def tolerate(self, pattern: str) -> None:
        """Console errors matching `pattern` do not fail the test (a test that stops the server
        expects the browser to log the refused reconnections)."""
        self.tolerated.append(re.compile(pattern))

    def anonymous(self, *, phone: bool = False, locale: str = "en-US", name: str = "anonymous") -> Page:
        """A fresh browser (nobody logged in) with a blank page, watched."""
        context = self.browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            locale=locale,
            timezone_id="Asia/Shanghai",
            base_url=self.server.url,
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        person = Person(name, context, page)
        self.opened.append(person)

        def on_console(message: ConsoleMessage) -> None:
            if message.type != "error":
                return
            seen = f"{message.text} ({message.location.get('url')})"
            if not any(pattern.search(seen) for pattern in self.tolerated):
                person.problems.append(f"console.error: {seen}")

        def on_dialog(dialog: Dialog) -> None:
            person.problems.append(f"JavaScript {dialog.type} dialog: {dialog.message!r}")
            dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda error: person.problems.append(f"page error: {error}"))
        page.on("dialog", on_dialog)
        return page

    def open(
        self,
        user: User,
        *,
        phone: bool = False,
        locale: str = "en-US",
        through_login_form: bool = False,
        path: str = "/",
    ) -> Page:
        """`user`'s browser, logged in, at `path` (the chat by default, then connected)."""
        page = self.anonymous(phone=phone, locale=locale, name=user.username)
        if through_login_form:
            give_password_daphne_checks(user)
            page.goto("/login/")
            page.locator("[name=username]").fill(user.username)
            page.locator("[name=password]").fill(PASSWORD)
            page.get_by_role("button", name=translated(language_of(locale), "Log in")).click()
            page.wait_for_url(self.server.url + "/")
        else:
            page.context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session_for(user), "url": self.server.url}]
            )
        if path != "/" or not through_login_form:
            page.goto(path)
        if path.split("#")[0] == "/":
            language = language_of(locale)
            connected = translated(language, "Connected", javascript=True)
            # (on a phone showing a conversation the sidebar, where the status is, is hidden)
            expect(connection_status(page, language, include_hidden=True)).to_have_text(connected)
        return page

    def check_and_close(self) -> None:
        problems = [f"{person.name}: {problem}" for person in self.opened for problem in person.problems]
        for person in self.opened:
            person.context.close()
        self.opened.clear()
        assert not problems, "the browser reported problems:\n" + "\n".join(problems)


@pytest.fixture
def people(browser: Browser, server: LiveServer) -> Iterator[People]:
    watcher = People(browser, server)
    yield watcher
    watcher.check_and_close()
