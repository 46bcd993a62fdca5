"""English and Simplified Chinese (CONTRACT section 8's pages): the language comes from the
language picker (set_language's cookie) or Accept-Language; templates, forms, messages and the
JavaScript catalog are translated, and the compiled catalogues are in the repository."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


def html_lang(response) -> str:
    found = re.search(r'<html lang="([^"]+)">', response.content.decode())
    assert found, "the page has no <html lang>"
    return found.group(1)


@pytest.mark.parametrize(
    ("accept_language", "lang", "heading"),
    [
        ("zh-CN,zh;q=0.9", "zh-hans", "登录"),
        ("zh-Hans", "zh-hans", "登录"),
        ("zh-hans-CN,zh;q=0.8,en;q=0.5", "zh-hans", "登录"),
        ("en", "en", "Log in"),
        ("en-GB,en;q=0.9", "en", "Log in"),
        ("fr-FR,fr;q=0.9", "en", "Log in"),
        ("", "en", "Log in"),
    ],
)
def test_the_language_follows_accept_language(accept_language: str, lang: str, heading: str) -> None:
    response = Client(headers={"accept-language": accept_language}).get("/login/")

    assert html_lang(response) == lang
    assert f'<h1 id="login-heading">{heading}</h1>' in response.content.decode()
    assert response["Content-Language"] == lang


def test_the_chinese_login_page_is_translated() -> None:
    html = Client(headers={"accept-language": "zh-CN"}).get("/login/").content.decode()

    assert "还没有账号" in html  # "New here?"
    assert '<label for="id_username">用户名' in html
    assert '<label for="language-select" class="language-label">语言</label>' in html
    assert "Log in" not in html


def test_every_page_has_a_labelled_language_picker_posting_to_set_language(user: User) -> None:
    client = Client()
    client.force_login(user)

    for url in ("/", "/settings/", "/wallet/"):
        html = client.get(url).content.decode()
        form = re.search(
            r'<form class="language-form" method="post" action="/i18n/setlang/".*?</form>', html, re.S
        )
        assert form, url
        assert '<label for="language-select" class="language-label">Language</label>' in form.group(0)
        assert '<select id="language-select" name="language">' in form.group(0)
        assert '<option value="zh-hans" lang="zh-hans">简体中文</option>' in form.group(0)
        assert '<option value="en" lang="en" selected>English</option>' in form.group(0)
        assert f'<input type="hidden" name="next" value="{url}">' in form.group(0)
        assert re.search(r'<button type="submit"[^>]*>Go</button>', form.group(0))
    assert '<script src="/static/js/language.js" defer></script>' in html


def test_choosing_a_language_sticks_over_accept_language(user: User) -> None:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)

    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/settings/"})

    assert response.status_code == 302 and response["Location"] == "/settings/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    page = client.get("/settings/")
    assert html_lang(page) == "zh-hans"
    assert "个人资料" in page.content.decode()  # "Your profile"

    client.post("/i18n/setlang/", {"language": "en", "next": "/settings/"})
    assert html_lang(client.get("/settings/")) == "en"


def test_the_chinese_wallet_page(user: User) -> None:
    client = Client(headers={"accept-language": "zh-CN"})
    client.force_login(user)

    html = client.get("/wallet/").content.decode()

    assert '<span id="balance-label">余额</span>' in html  # "Balance"
    assert '<output id="balance" aria-labelledby="balance-label">0</output>' in html
    assert '<script src="/static/js/wallet.js" defer></script>' in html
    assert "钱包" in html  # "Wallet"


def test_flash_messages_are_translated(make_user) -> None:
    client = Client(headers={"accept-language": "zh-CN"})

    response = client.post(
        "/register/",
        {"username": "xiaoming", "display_name": "小明", "password": "Sturdy-Pass-4431"},
        follow=True,
    )

    number = User.objects.get(username="xiaoming").number
    assert f"你的账号是 {number}" in response.content.decode()  # "Your account number is"


def test_the_404_and_500_pages_in_chinese(rf) -> None:
    from django.utils import translation

    from core.web import server_error

    assert "找不到" in Client(headers={"accept-language": "zh-CN"}).get("/no-such-page/").content.decode()
    with translation.override("zh-hans"):
        html = server_error(rf.get("/")).content.decode()
    assert '<html lang="zh-hans">' in html and "出错了" in html


def in_catalog(text: str, body: str) -> bool:
    """The catalog is JSON inside JavaScript: non-ASCII text may come as \\uXXXX escapes."""
    return text in body or text.encode("ascii", "backslashreplace").decode() in body


def test_the_javascript_catalog_in_chinese() -> None:
    body = Client(headers={"accept-language": "zh-CN"}).get("/jsi18n/").content.decode()

    # settings.js's check of the chosen avatar
    assert in_catalog("Choose a PNG, JPEG or WebP image.", body)
    assert in_catalog("请选择 PNG、JPEG 或 WebP 格式的图片。", body)


def test_the_javascript_catalog_in_english_has_no_translations() -> None:
    body = Client(headers={"accept-language": "en"}).get("/jsi18n/").content.decode()

    assert not in_catalog("请选择 PNG、JPEG 或 WebP 格式的图片。", body)


def test_the_compiled_catalogues_are_complete_and_in_the_tree() -> None:
    for domain in ("django", "djangojs"):
        po = (LOCALE / f"{domain}.po").read_text(encoding="utf-8")
        assert (LOCALE / f"{domain}.mo").stat().st_size > 0
        assert "#, fuzzy" not in po.split("\n\n", 1)[1], f"{domain}.po has fuzzy entries"
        entries = po.split("\n\n")[1:]
        untranslated = [e for e in entries if re.search(r'msgstr(\[\d\])? ""\n?$', e.strip() + "\n")]
        assert untranslated == [], f"{domain}.po has untranslated entries"
