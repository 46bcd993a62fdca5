"""The settings page (/settings/): profile, avatar and password forms, each path (success and every
error) as a browser sees it, in English and in Simplified Chinese."""

import io
import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.models import User
from tests.conftest import token_for
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Violet-Harbour-5930"


def page(response) -> str:
    return response.content.decode()


def browser(user: User, **headers: str) -> Client:
    client = Client(headers=headers)
    client.force_login(user)
    return client


def logged_in(client: Client) -> bool:
    return client.get("/settings/").status_code == 200 and SESSION_KEY in client.session


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, format=image_format)
    return buffer.getvalue()


def change_password(client: Client, old: str = PASSWORD, new: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post(
        "/settings/",
        {
            "form": "password",
            "old_password": old,
            "new_password": new,
            "new_password_confirm": new if confirm is None else confirm,
        },
        follow=True,
    )


# --- The page ---------------------------------------------------------------------------------------


def test_every_control_has_a_label(user: User) -> None:
    html = page(browser(user).get("/settings/"))

    for name in (
        "display_name",
        "signature",
        "email",
        "presence",
        "read_receipts",
        "avatar",
        "old_password",
        "new_password",
        "new_password_confirm",
    ):
        assert re.search(rf'<label for="id_{name}">[^<]+</label>', html), name
        assert f'id="id_{name}"' in html
    assert re.search(r'<option value="invisible"[^>]*>Invisible', html)
    assert 'accept="image/png,image/jpeg,image/webp"' in html
    assert 'data-max-bytes="1048576"' in html
    assert re.search(r'<script src="/static/js/settings\.js" defer></script>', html)
    # Passwords are typed, not remembered by the page.
    assert 'autocomplete="current-password"' in html and 'autocomplete="new-password"' in html


def test_the_page_shows_the_current_settings(make_user) -> None:
    user = make_user(
        display_name="Shown",
        signature="Motto",
        email="shown@example.com",
        presence="away",
        read_receipts=True,
    )

    html = page(browser(user).get("/settings/"))

    assert 'value="Shown"' in html and 'value="Motto"' in html and 'value="shown@example.com"' in html
    assert re.search(r'<option value="away" selected>', html)
    assert re.search(r'<input type="checkbox" name="read_receipts"[^>]*checked', html)


# --- Profile --------------------------------------------------------------------------------------------


def test_saving_the_profile(user: User) -> None:
    client = browser(user)

    response = client.post(
        "/settings/",
        {
            "form": "profile",
            "display_name": "New Name",
            "signature": "Hello",
            "email": "",
            "presence": "invisible",
            "read_receipts": "on",
        },
        follow=True,
    )

    assert response.redirect_chain == [("/settings/", 302)]
    assert "Your profile was saved." in page(response)
    user.refresh_from_db()
    assert (user.display_name, user.signature, user.email, user.presence, user.read_receipts) == (
        "New Name",
        "Hello",
        "",
        "invisible",
        True,
    )


def test_a_blank_display_name_is_refused(user: User) -> None:
    before = user.display_name

    response = browser(user).post(
        "/settings/", {"form": "profile", "display_name": "   ", "presence": "online"}
    )

    assert response.status_code == 200
    assert response.context["profile_form"].errors["display_name"]
    assert 'aria-invalid="true"' in page(response)
    user.refresh_from_db()
    assert user.display_name == before


def test_a_bad_email_and_presence_are_field_errors(user: User) -> None:
    response = browser(user).post(
        "/settings/", {"form": "profile", "display_name": "X", "email": "nope", "presence": "asleep"}
    )

    errors = response.context["profile_form"].errors
    assert set(errors) == {"email", "presence"}
    assert "Enter a valid email address." in page(response)


def test_a_too_long_signature_is_a_field_error(user: User) -> None:
    response = browser(user).post(
        "/settings/", {"form": "profile", "display_name": "X", "signature": "s" * 201, "presence": "online"}
    )

    assert set(response.context["profile_form"].errors) == {"signature"}
    user.refresh_from_db()
    assert user.signature != "s" * 201


# --- Avatar -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("image_format", "extension"), [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")])
def test_uploading_an_avatar(user: User, image_format: str, extension: str) -> None:
    upload = SimpleUploadedFile(f"me.{extension}", image_bytes(image_format))

    response = browser(user).post("/settings/", {"form": "avatar", "avatar": upload}, follow=True)

    assert "Your avatar was updated." in page(response)
    user.refresh_from_db()
    assert user.avatar.name.endswith(f".{extension}")


def test_an_avatar_over_one_mebibyte_is_refused(user: User) -> None:
    upload = SimpleUploadedFile("big.png", image_bytes() + b"\0" * (1024 * 1024))

    response = browser(user).post("/settings/", {"form": "avatar", "avatar": upload})

    assert response.context["avatar_form"].errors["avatar"] == ["The file is larger than 1 MiB."]
    user.refresh_from_db()
    assert not user.avatar


def test_a_gif_avatar_is_refused(user: User) -> None:
    upload = SimpleUploadedFile("a.gif", image_bytes("GIF"))

    response = browser(user).post("/settings/", {"form": "avatar", "avatar": upload})

    assert "GIF images are not accepted" in page(response)
    user.refresh_from_db()
    assert not user.avatar


def test_a_non_image_avatar_is_refused(user: User) -> None:
    upload = SimpleUploadedFile("a.png", b"not an image at all")

    response = browser(user).post("/settings/", {"form": "avatar", "avatar": upload})

    assert response.context["avatar_form"].errors["avatar"] == ["Not a readable image."]


def test_the_avatar_form_without_a_file_asks_for_one(user: User) -> None:
    response = browser(user).post("/settings/", {"form": "avatar"})

    assert response.context["avatar_form"].errors["avatar"] == ["This field is required."]


# --- Password ------------------------------------------------------------------------------------------


def test_changing_the_password_keeps_this_browser_and_ends_the_others(user: User) -> None:
    # given: this browser, another browser and a device token
    this, other = browser(user), browser(user)
    token = token_for(user)

    # when
    response = change_password(this)

    # then
    assert response.redirect_chain == [("/settings/", 302)]
    assert "Your password was changed." in page(response)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert logged_in(this)
    assert not logged_in(other)
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {token}").status_code == 401
    assert Client().login(username=user.username, password=NEW_PASSWORD)


def test_a_wrong_current_password_is_a_field_error_and_a_failed_login(user: User) -> None:
    client = browser(user)

    response = change_password(client, old="not-my-password")

    assert response.redirect_chain == []
    assert response.context["password_form"].errors["old_password"] == [
        "Your current password is not correct."
    ]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert logged_in(client)


def test_after_five_wrong_passwords_the_change_is_locked_out(user: User) -> None:
    client = browser(user)
    for _ in range(5):
        change_password(client, old="not-my-password")

    response = change_password(client)  # the right one, now refused

    assert response.context["password_form"].non_field_errors() == [
        "Too many failed logins. Try again in about 15 minutes."
    ]
    assert "Too many failed logins" in page(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_weak_new_password_shows_the_validators_messages(user: User) -> None:
    response = change_password(browser(user), new="12345")

    errors = response.context["password_form"].errors["new_password"]
    assert any("too short" in e for e in errors)
    assert any("entirely numeric" in e for e in errors)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_mismatched_confirmation_is_a_field_error(user: User) -> None:
    response = change_password(browser(user), confirm="Something-Else-123")

    assert response.context["password_form"].errors["new_password_confirm"] == [
        "The two new passwords do not match."
    ]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_missing_password_fields_are_required(user: User) -> None:
    response = browser(user).post("/settings/", {"form": "password"})

    assert set(response.context["password_form"].errors) == {
        "old_password",
        "new_password",
        "new_password_confirm",
    }
    # The other forms are shown fresh, without errors.
    assert not response.context["profile_form"].is_bound
    assert not response.context["avatar_form"].is_bound


def test_the_forms_are_csrf_protected(user: User) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)

    response = strict.post(
        "/settings/",
        {
            "form": "password",
            "old_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 403
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# --- In Chinese ----------------------------------------------------------------------------------------


def test_the_page_and_its_errors_in_chinese(user: User) -> None:
    client = browser(user, accept_language="zh-CN,zh;q=0.9")

    response = change_password(client, old="not-my-password")

    html = page(response)
    assert '<html lang="zh-hans">' in html
    assert "修改密码" in html  # "Change password"
    assert "当前密码不正确" in html  # "Your current password is not correct."


def test_success_messages_in_chinese(user: User) -> None:
    client = browser(user, accept_language="zh-Hans")

    response = client.post(
        "/settings/", {"form": "profile", "display_name": "张三", "presence": "online"}, follow=True
    )

    assert "资料已保存" in page(response)  # "Your profile was saved."
