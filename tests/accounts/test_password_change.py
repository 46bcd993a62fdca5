"""`POST me/password` (CONTRACT section 3): the password changes, every other token and browser
session stops working at once, the credentials used stay valid, and a wrong old password counts as a
failed login."""

from collections.abc import Callable

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import DeviceToken, User
from tests.api_helpers import assert_error
from tests.conftest import token_for
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PASSWORD_URL = "/api/v1/me/password"
ME = "/api/v1/me"
TOKEN = "/api/v1/auth/token"
NEW_PASSWORD = "Violet-Harbour-5930"


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def change(client: APIClient | Client, old: str = PASSWORD, new: str = NEW_PASSWORD, **extra):
    return client.post(
        PASSWORD_URL,
        {"old_password": old, "new_password": new},
        content_type="application/json",
        **extra,
    )


def login(username: str, password: str):
    return APIClient().post(TOKEN, {"username": username, "password": password}, format="json")


def browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_change_answers_204_and_the_new_password_works(user: User) -> None:
    r = change(token_client(token_for(user)))

    assert r.status_code == 204
    assert r.content == b""
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert login(user.username, NEW_PASSWORD).status_code == 200
    assert_error(login(user.username, PASSWORD), 400, "invalid_credentials")


def test_other_tokens_stop_working_and_the_one_used_stays_valid(user: User, make_user) -> None:
    # given: three devices of the user, and someone else's
    used, phone, tablet = token_for(user), token_for(user), token_for(user)
    stranger = token_for(make_user())
    # when
    assert change(token_client(used)).status_code == 204
    # then
    assert token_client(used).get(ME).status_code == 200
    for other in (phone, tablet):
        assert_error(token_client(other).get(ME), 401, "not_authenticated")
    assert DeviceToken.objects.filter(user=user).count() == 1
    assert token_client(stranger).get(ME).status_code == 200


def test_browser_sessions_stop_working_when_changed_with_a_token(user: User) -> None:
    laptop = browser(user)
    assert laptop.get(ME).status_code == 200

    assert change(token_client(token_for(user))).status_code == 204

    assert laptop.get(ME).status_code in (401, 403)
    assert laptop.get("/settings/").status_code == 302  # sent to log in


def test_changed_in_a_browser_that_session_stays_and_the_others_stop(user: User) -> None:
    # given: two browser sessions and a device token
    here, elsewhere = browser(user), browser(user)
    device = token_for(user)
    # when: the password is changed in one browser
    r = change(here)
    # then
    assert r.status_code == 204
    assert here.get(ME).status_code == 200
    assert here.get("/settings/").status_code == 200
    assert elsewhere.get(ME).status_code in (401, 403)
    assert_error(token_client(device).get(ME), 401, "not_authenticated")
    assert not DeviceToken.objects.filter(user=user).exists()


def test_session_change_needs_csrf(user: User) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)

    r = change(strict)

    assert_error(r, 403, "csrf_failed")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_wrong_old_password_is_400_invalid_credentials(user: User) -> None:
    device = token_for(user)
    other = token_for(user)

    r = change(token_client(device), old="not-my-password-1")

    assert_error(r, 400, "invalid_credentials")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert token_client(other).get(ME).status_code == 200


def test_wrong_old_passwords_count_as_failed_logins(user: User) -> None:
    client = token_client(token_for(user))
    # given: three failed logins and two wrong old passwords
    for _ in range(3):
        assert_error(login(user.username, "wrong-password-1"), 400, "invalid_credentials")
    for _ in range(2):
        assert_error(change(client, old="wrong-password-1"), 400, "invalid_credentials")
    # then: the account is locked out everywhere, even with the right password
    r = login(user.username, PASSWORD)
    assert_error(r, 429, "rate_limited")
    r = change(client)
    assert_error(r, 429, "rate_limited")
    assert 0 < int(r["Retry-After"]) <= 15 * 60 + 1
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_locked_out_by_failed_logins_the_change_is_429(user: User) -> None:
    client = token_client(token_for(user))
    for _ in range(5):
        login(user.username, "wrong-password-1")

    assert_error(change(client), 429, "rate_limited")


def test_a_right_old_password_resets_the_accounts_failures(user: User) -> None:
    for _ in range(4):
        login(user.username, "wrong-password-1")

    assert change(token_client(token_for(user))).status_code == 204

    for _ in range(4):
        login(user.username, "wrong-password-1")
    assert login(user.username, NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("new", ["short1!", "12345678901234", "password123"])
def test_weak_new_password_is_400_with_the_field(user: User, new: str) -> None:
    device, other = token_for(user), token_for(user)

    body = assert_error(change(token_client(device), new=new), 400, "invalid")

    assert body["fields"]["new_password"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert token_client(other).get(ME).status_code == 200


def test_new_password_similar_to_the_username_is_refused(make_user: Callable[..., User]) -> None:
    user = make_user(username="margarethe")
    body = assert_error(change(token_client(token_for(user)), new="margarethe1"), 400, "invalid")
    assert body["fields"]["new_password"]


def test_missing_fields_are_400_naming_them(user: User) -> None:
    r = token_client(token_for(user)).post(PASSWORD_URL, {}, format="json")
    body = assert_error(r, 400, "invalid")
    assert set(body["fields"]) == {"old_password", "new_password"}


def test_needs_authentication(anon: APIClient) -> None:
    assert_error(change(anon), 401, "not_authenticated")


def test_schema_documents_the_endpoint(client: Client) -> None:
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/me/password"]["post"]
    assert "204" in operation["responses"]
    assert {"400", "429"} <= set(operation["responses"])
