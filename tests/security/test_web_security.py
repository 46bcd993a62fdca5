"""Web security in production settings (DEBUG off, as the test settings are): CSRF on session-
authenticated unsafe requests, secure cookies, the security headers (HSTS, CSP without inline
script, nosniff, Referrer-Policy, frame-ancestors), request body limits, and
`manage.py check --deploy` clean with a production-like environment (issue 13, item 4).

The socket's origin check is tested in tests/messaging/test_consumers.py
(test_a_foreign_browser_origin_is_refused) and tests/messaging/test_socket_credentials.py.
"""

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from tests.api_helpers import assert_error
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
PAGES = ["/", "/login/", "/register/", "/wallet/", "/store/", "/settings/", "/admin/login/", "/api/docs/"]


def logged_in_browser(user, **kwargs) -> Client:
    browser = Client(**kwargs)
    browser.force_login(user)
    return browser


# --- CSRF ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "/api/v1/me", {"signature": "x"}),
        ("post", "/api/v1/conversations", {"kind": "group", "title": "t", "members": []}),
        ("post", "/api/v1/auth/logout", None),
        ("put", "/api/v1/me/avatar", None),
    ],
    ids=["patch-me", "post-conversations", "post-logout", "put-avatar"],
)
def test_a_session_without_the_csrf_token_is_refused(user, method, path, body):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert_error(getattr(client, method)(path, body, format="json"), 403, "csrf_failed")


def test_a_session_with_the_csrf_token_passes_and_a_token_header_needs_none(user, client_for):
    browser = logged_in_browser(user, enforce_csrf_checks=True)
    browser.get("/settings/", secure=True)  # sets the csrftoken cookie
    token = browser.cookies["csrftoken"].value
    r = browser.patch(
        "/api/v1/me",
        {"signature": "ok"},
        content_type="application/json",
        headers={"X-CSRFToken": token, "Referer": "https://testserver/settings/"},
        secure=True,
    )
    assert r.status_code == 200, r.content
    api = client_for(user)
    api.cookies = browser.cookies  # a session cookie too: the token header alone decides
    api.handler.enforce_csrf_checks = True
    assert api.patch("/api/v1/me", {"signature": "token"}, format="json").status_code == 200


def test_a_website_form_without_the_csrf_token_is_refused(user):
    browser = logged_in_browser(user, enforce_csrf_checks=True)
    assert browser.post("/wallet/topups/", {"package": "1"}, secure=True).status_code == 403


# --- Cookies and headers ------------------------------------------------------------------------


def test_session_and_csrf_cookies_are_secure_httponly_and_same_site(user):
    browser = Client()
    browser.get("/login/", secure=True)
    r = browser.post("/login/", {"username": user.username, "password": PASSWORD}, secure=True)
    assert r.status_code == 302, r.content
    session = r.cookies[django_settings.SESSION_COOKIE_NAME]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    csrf = browser.cookies["csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax"


def directives(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.parametrize("path", ["/login/", "/api/v1/me", "/healthz"])
def test_security_headers_in_production(path):
    r = Client().get(path, secure=True)
    hsts = r["Strict-Transport-Security"]
    assert re.search(r"max-age=(\d+)", hsts) and int(re.search(r"max-age=(\d+)", hsts)[1]) >= 31536000
    assert "includeSubDomains" in hsts and "preload" in hsts
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Referrer-Policy"] == "same-origin"
    assert r["X-Frame-Options"] == "DENY"
    if path == "/login/":
        policy = directives(r["Content-Security-Policy"])
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
        assert not any("'unsafe-eval'" in values for values in policy.values())


def test_plain_http_is_redirected_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    r = Client().get("/login/")
    assert r.status_code == 301 and r["Location"].startswith("https://")


class _InlineScriptFinder(HTMLParser):
    """Scripts a `script-src 'self'` policy would block: inline <script> bodies (JSON data blocks
    from json_script are data, not script) and event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and "src" not in named and named.get("type") != "application/json":
            self.found.append(f"inline <script {attrs}>")
        self.found += [f"<{tag} {name}=...>" for name, _ in attrs if name.startswith("on")]
        if named.get("href", "").strip().lower().startswith("javascript:"):
            self.found.append(f"<{tag} href=javascript:...>")


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_script_the_policy_would_block(path, user):
    browser = logged_in_browser(user) if path not in ("/login/", "/register/", "/admin/login/") else Client()
    r = browser.get(path, secure=True, follow=True)
    assert r.status_code == 200, (path, r.status_code)
    finder = _InlineScriptFinder()
    finder.feed(r.content.decode())
    assert not finder.found, f"{path}: {finder.found}"


def test_templates_have_no_inline_script_or_handlers():
    """The template sources too (pages not rendered above, e.g. error pages and partials)."""
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        if "email" in template.parts:
            continue  # mail is not shown under the site's CSP
        finder = _InlineScriptFinder()
        finder.feed(re.sub(r"{%.*?%}|{{.*?}}", "", template.read_text(), flags=re.S))
        offenders += [f"{template.relative_to(ROOT)}: {found}" for found in finder.found]
    assert not offenders, "\n".join(offenders)


# --- Body size limits and uploads ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/conversations", "/api/v1/payments/webhook/sandbox", "/api/v1/auth/register"],
    ids=["drf-view", "webhook", "anonymous"],
)
def test_a_body_past_the_limit_is_413_json(api, path):
    too_big = b'{"body": "' + b"a" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'
    assert_error(api.generic("POST", path, too_big, content_type="application/json"), 413, "too_large")


def test_a_multipart_field_past_the_limit_is_413_json(api):
    r = api.put(
        "/api/v1/me/avatar",
        {"note": "x" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)},
        format="multipart",
    )
    assert_error(r, 413, "too_large")


def test_an_avatar_past_1_mib_or_not_an_image_is_400(api):
    big = SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * MIB, content_type="image/png")
    assert_error(api.put("/api/v1/me/avatar", {"avatar": big}, format="multipart"), 400, "invalid")
    fake = SimpleUploadedFile("a.png", b"<svg onload=alert(1)>", content_type="image/png")
    assert_error(api.put("/api/v1/me/avatar", {"avatar": fake}, format="multipart"), 400, "invalid")


def test_limits_are_sensible():
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 4 * MIB
    assert django_settings.AVATAR_MAX_BYTES == MIB
    assert django_settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 4 * MIB


# --- check --deploy ---------------------------------------------------------------------------------


def test_check_deploy_is_clean_in_a_production_environment():
    keep = ("PATH", "HOME", "LANG", "DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECRET_KEY="kD9#q2v!Lr7@xT4$wZp8^mN3&bF6*hJ1(sC5)gY0-eA2+uR9=oV7_iK3~lP8?dQ4",
        ALLOWED_HOSTS="chat.example.com",
        CSRF_TRUSTED_ORIGINS="https://chat.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout
