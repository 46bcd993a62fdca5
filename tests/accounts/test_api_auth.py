"""Sign-up, tokens, logout and how the API authenticates (CONTRACT sections 2 and 3)."""

import time
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from accounts.models import DeviceToken, User
from tests.api_helpers import assert_error
from tests.conftest import token_for
from tests.factories import PASSWORD

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"
REQUESTS = "/api/v1/friends/requests"
GOOD_PASSWORD = "Quiet-Lantern-4821"


def register(client: APIClient, *, remote_addr: str = "127.0.0.1", **body):
    body.setdefault("password", GOOD_PASSWORD)
    return client.post(REGISTER, body, format="json", REMOTE_ADDR=remote_addr)


def login(client: APIClient, username: str, password: str, **extra):
    return client.post(TOKEN, {"username": username, "password": password}, format="json", **extra)


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def assert_retry_after(response, at_most: int) -> None:
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= at_most


# --- auth/register ---------------------------------------------------------------------------------


def test_register_answers_201_with_the_user_and_a_working_token(anon):
    # when
    r = register(anon, username="alice", display_name="Alice Liddell", email="alice@example.com")
    # then
    assert r.status_code == 201
    body = r.json()
    assert {"number", "username", "display_name", "signature", "avatar_url", "presence", "token"} <= set(body)
    assert body["username"] == "alice"
    assert body["display_name"] == "Alice Liddell"
    assert body["signature"] == ""
    assert body["presence"] == "online"
    assert isinstance(body["number"], int)
    assert body["number"] >= 10000
    assert body["avatar_url"] == f"/avatars/default/{body['number']}.svg"
    assert isinstance(body["token"], str)
    assert body["token"]
    assert "password" not in body
    user = User.objects.get(username="alice")
    assert user.number == body["number"]
    assert user.email == "alice@example.com"
    assert user.check_password(GOOD_PASSWORD)
    # and the token authenticates as the new user
    me = token_client(body["token"]).get(ME)
    assert me.status_code == 200
    assert me.json()["number"] == body["number"]
    assert me.json()["email"] == "alice@example.com"


def test_register_numbers_increase(anon):
    numbers = [register(anon, username=f"member{i}").json()["number"] for i in range(3)]
    assert all(n >= 10000 for n in numbers)
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 3


def test_register_with_a_chinese_username(anon):
    r = register(anon, username="张三", display_name="张三")
    assert r.status_code == 201
    assert r.json()["username"] == "张三"
    assert login(anon, "张三", GOOD_PASSWORD).status_code == 200


def test_register_without_email_or_display_name(anon):
    r = register(anon, username="bob")
    assert r.status_code == 201
    assert r.json()["display_name"] == "bob"
    assert User.objects.get(username="bob").email == ""


def test_register_with_blank_email_is_fine(anon):
    r = register(anon, username="bob", email="")
    assert r.status_code == 201


def test_register_with_invalid_email_is_400(anon):
    r = register(anon, username="bob", email="not-an-email")
    body = assert_error(r, 400, "invalid")
    assert "email" in body["fields"]
    assert not User.objects.filter(username="bob").exists()


def test_register_taken_username_is_400_with_username_field(anon, make_user):
    make_user(username="alice")
    r = register(anon, username="alice")
    body = assert_error(r, 400, "invalid")
    assert body["fields"]["username"]
    assert User.objects.filter(username__iexact="alice").count() == 1


@pytest.mark.parametrize("taken, attempt", [("alice", "Alice"), ("Alice", "alice"), ("alice", "ALICE")])
def test_register_username_is_taken_ignoring_case(anon, make_user, taken, attempt):
    make_user(username=taken)
    r = register(anon, username=attempt)
    body = assert_error(r, 400, "invalid")
    assert body["fields"]["username"]
    assert User.objects.filter(username__iexact="alice").count() == 1


@pytest.mark.parametrize(
    "password",
    [
        "short1!",  # too short
        "12345678901234",  # entirely numeric
        "password123",  # too common
        "margarethe1",  # too similar to the username
    ],
)
def test_register_weak_password_is_400_with_password_field(anon, password):
    r = register(anon, username="margarethe", password=password)
    body = assert_error(r, 400, "invalid")
    assert body["fields"]["password"]
    assert all(isinstance(m, str) for m in body["fields"]["password"])
    assert not User.objects.filter(username="margarethe").exists()


@pytest.mark.parametrize("username", ["bad name", "semi;colon", "slash/", "x" * 151, ""])
def test_register_invalid_username_is_400(anon, username):
    r = register(anon, username=username)
    body = assert_error(r, 400, "invalid")
    assert body["fields"]["username"]
    assert not User.objects.exists()


def test_register_missing_fields_is_400_naming_them(anon):
    r = anon.post(REGISTER, {}, format="json")
    body = assert_error(r, 400, "invalid")
    assert set(body["fields"]) >= {"username", "password"}


def test_register_unparseable_body_is_400_malformed(anon):
    r = anon.post(REGISTER, data="{not json", content_type="application/json")
    assert_error(r, 400, "malformed")


def test_register_is_throttled_per_address(anon, settings):
    # given: at most two sign-ups an hour from one address
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register": "2/hour"}
    assert register(anon, username="first").status_code == 201
    assert register(anon, username="second").status_code == 201
    # when
    r = register(anon, username="third")
    # then
    assert_error(r, 429, "rate_limited")
    assert_retry_after(r, 3600)
    assert not User.objects.filter(username="third").exists()
    # and another address is not affected
    other = register(anon, username="fourth", remote_addr="10.9.8.7")
    assert other.status_code == 201


def test_register_default_limit_allows_a_burst(anon):
    for i in range(12):
        assert register(anon, username=f"burst{i}").status_code == 201


# --- auth/token ------------------------------------------------------------------------------------


def test_token_answers_a_new_token_for_each_device(anon, user):
    # when: two devices log in
    first = login(anon, user.username, PASSWORD)
    second = login(anon, user.username, PASSWORD)
    # then
    assert first.status_code == second.status_code == 200
    assert set(first.json()) == {"token"}
    assert first.json()["token"] != second.json()["token"]
    assert DeviceToken.objects.filter(user=user).count() == 2
    for key in (first.json()["token"], second.json()["token"]):
        me = token_client(key).get(ME)
        assert me.status_code == 200
        assert me.json()["number"] == user.number


def test_token_username_ignores_case(anon, make_user):
    user = make_user(username="CaseyJones")
    r = login(anon, "caseyjones", PASSWORD)
    assert r.status_code == 200
    assert token_client(r.json()["token"]).get(ME).json()["number"] == user.number


def test_token_wrong_password_is_400_invalid_credentials(anon, user):
    r = login(anon, user.username, "wrong-password-1")
    assert_error(r, 400, "invalid_credentials")
    assert not DeviceToken.objects.filter(user=user).exists()


def test_token_unknown_user_is_400_invalid_credentials(anon, db):
    assert_error(login(anon, "nobody-here", "whatever-password"), 400, "invalid_credentials")


def test_token_inactive_user_is_400_invalid_credentials(anon, make_user):
    user = make_user(is_active=False)
    assert_error(login(anon, user.username, PASSWORD), 400, "invalid_credentials")


def test_token_missing_fields_is_400_invalid(anon, db):
    body = assert_error(anon.post(TOKEN, {"username": "x"}, format="json"), 400, "invalid")
    assert "password" in body["fields"]


def test_five_failures_lock_the_account_even_with_the_right_password(anon, user):
    # given: five failures for one account
    for _ in range(5):
        assert_error(login(anon, user.username, "wrong-password-1"), 400, "invalid_credentials")
    # when: the right password comes next
    r = login(anon, user.username, PASSWORD)
    # then
    assert_error(r, 429, "rate_limited")
    assert_retry_after(r, 15 * 60 + 1)
    assert not DeviceToken.objects.filter(user=user).exists()


def test_account_lock_counts_usernames_ignoring_case(anon, make_user):
    user = make_user(username="walter")
    for name in ["walter", "Walter", "WALTER", "wAlter", "walteR"]:
        login(anon, name, "wrong-password-1")
    assert_error(login(anon, "walter", PASSWORD), 429, "rate_limited")
    assert not DeviceToken.objects.filter(user=user).exists()


def test_four_failures_do_not_lock(anon, user):
    for _ in range(4):
        login(anon, user.username, "wrong-password-1")
    assert login(anon, user.username, PASSWORD).status_code == 200


def test_account_lock_applies_from_every_address(anon, user):
    for i in range(5):
        login(anon, user.username, "wrong-password-1", REMOTE_ADDR=f"10.0.0.{i + 1}")
    r = login(anon, user.username, PASSWORD, REMOTE_ADDR="10.0.1.1")
    assert_error(r, 429, "rate_limited")


def test_account_lock_does_not_affect_other_accounts(anon, make_user):
    victim, other = make_user(), make_user()
    for _ in range(5):
        login(anon, victim.username, "wrong-password-1")
    assert login(anon, other.username, PASSWORD).status_code == 200


def test_success_resets_the_account_counter(anon, user):
    # given: four failures, then a success
    for _ in range(4):
        login(anon, user.username, "wrong-password-1")
    assert login(anon, user.username, PASSWORD).status_code == 200
    # when: four more failures
    for _ in range(4):
        assert_error(login(anon, user.username, "wrong-password-1"), 400, "invalid_credentials")
    # then: still not locked (the counter started again)
    assert login(anon, user.username, PASSWORD).status_code == 200


def test_lock_lasts_until_the_window_passes(anon, user, settings):
    # given: a one-second window
    settings.LOGIN_FAILURE_WINDOW = timedelta(seconds=1)
    for _ in range(5):
        login(anon, user.username, "wrong-password-1")
    r = login(anon, user.username, PASSWORD)
    assert_error(r, 429, "rate_limited")
    assert_retry_after(r, 2)
    # when the window has passed
    time.sleep(2.2)
    # then
    assert login(anon, user.username, PASSWORD).status_code == 200


def test_failures_from_one_address_lock_that_address(anon, make_user, settings):
    # given: a lower per-address limit and failures across several accounts from one address
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    people = [make_user() for _ in range(4)]
    for person in people[:3]:
        assert_error(login(anon, person.username, "wrong-password-1"), 400, "invalid_credentials")
    # when: a fourth account logs in correctly from the same address
    r = login(anon, people[3].username, PASSWORD)
    # then
    assert_error(r, 429, "rate_limited")
    assert_retry_after(r, 15 * 60 + 1)
    # and a forged X-Forwarded-For does not escape it (no trusted proxy by default)
    spoofed = login(anon, people[3].username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert_error(spoofed, 429, "rate_limited")
    # while another address is fine
    assert login(anon, people[3].username, PASSWORD, REMOTE_ADDR="10.20.30.40").status_code == 200


def test_default_address_limit_is_fifty(anon, make_user):
    # given: 49 failures from one address, spread over accounts so no account is locked
    people = [make_user() for _ in range(11)]
    for i in range(49):
        login(anon, people[i % 10].username, "wrong-password-1")
    # then the address still works
    assert login(anon, people[10].username, PASSWORD).status_code == 200
    # and after the 50th failure it does not
    login(anon, people[9].username, "wrong-password-1")
    assert_error(login(anon, people[10].username, PASSWORD), 429, "rate_limited")


def test_address_lock_is_not_reset_by_a_success(anon, make_user, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    a, b = make_user(), make_user()
    login(anon, a.username, "wrong-password-1")
    login(anon, a.username, "wrong-password-1")
    assert login(anon, b.username, PASSWORD).status_code == 200
    login(anon, a.username, "wrong-password-1")
    assert_error(login(anon, b.username, PASSWORD), 429, "rate_limited")


# --- auth/logout -----------------------------------------------------------------------------------


def test_logout_revokes_only_the_token_used(anon, user):
    # given: two devices
    first = token_client(login(anon, user.username, PASSWORD).json()["token"])
    second = token_client(login(anon, user.username, PASSWORD).json()["token"])
    # when
    r = first.post(LOGOUT)
    # then
    assert r.status_code == 204
    assert_error(first.get(ME), 401, "not_authenticated")
    assert second.get(ME).status_code == 200
    assert DeviceToken.objects.filter(user=user).count() == 1


def test_logout_twice_is_401_the_second_time(api):
    assert api.post(LOGOUT).status_code == 204
    assert_error(api.post(LOGOUT), 401, "not_authenticated")


def test_logout_without_credentials_is_401(anon):
    assert_error(anon.post(LOGOUT), 401, "not_authenticated")


def test_session_logout_ends_the_session(user):
    # given: a browser session (CSRF checks off in this client)
    client = APIClient()
    assert client.login(username=user.username, password=PASSWORD)
    assert client.get(ME).status_code == 200
    # when
    r = client.post(LOGOUT)
    # then
    assert r.status_code == 204
    assert_error(client.get(ME), 401, "not_authenticated")


def test_session_logout_keeps_device_tokens(user, client_for):
    device = client_for(user)
    browser = APIClient()
    browser.force_login(user)
    assert browser.post(LOGOUT).status_code == 204
    assert device.get(ME).status_code == 200


# --- authentication and CSRF ------------------------------------------------------------------------


def test_missing_credentials_is_401_not_authenticated(anon):
    r = anon.get(ME)
    assert_error(r, 401, "not_authenticated")
    assert r["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize("header", ["Token nope", "Token ", "Token a b", "Bearer abc", "Token " + "0" * 40])
def test_invalid_token_is_401_not_authenticated(anon, user, header):
    anon.credentials(HTTP_AUTHORIZATION=header)
    assert_error(anon.get(ME), 401, "not_authenticated")


def test_token_of_a_deactivated_user_is_401(user, client_for):
    client = client_for(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert_error(client.get(ME), 401, "not_authenticated")


def test_every_authenticated_endpoint_refuses_anonymous_callers(anon, make_user):
    other = make_user()
    calls = [
        ("get", ME),
        ("patch", ME),
        ("put", "/api/v1/me/avatar"),
        ("get", "/api/v1/users?q=a"),
        ("get", f"/api/v1/users/{other.number}"),
        ("get", "/api/v1/friends"),
        ("patch", f"/api/v1/friends/{other.number}"),
        ("delete", f"/api/v1/friends/{other.number}"),
        ("get", REQUESTS),
        ("post", REQUESTS),
        ("post", "/api/v1/friends/requests/1/accept"),
        ("post", "/api/v1/friends/requests/1/decline"),
        ("get", "/api/v1/blocks"),
        ("post", "/api/v1/blocks"),
        ("delete", f"/api/v1/blocks/{other.number}"),
    ]
    for method, path in calls:
        r = getattr(anon, method)(path)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["code"] == "not_authenticated", (method, path)


def test_session_post_without_csrf_token_is_403_csrf_failed(make_user):
    # given: a logged-in browser session, and CSRF checks as a browser gets them
    me, other = make_user(), make_user()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(me)
    # when
    r = client.post(REQUESTS, {"to": other.number}, format="json")
    # then
    assert_error(r, 403, "csrf_failed")
    assert not me.friend_requests_sent.exists()
    # and reads need no CSRF token
    assert client.get(ME).status_code == 200


def test_session_post_with_csrf_token_succeeds(make_user):
    me, other = make_user(), make_user()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(me)
    assert client.get("/settings/").status_code == 200  # a page with a form sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    r = client.post(REQUESTS, {"to": other.number}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert r.status_code == 201
    assert me.friend_requests_sent.count() == 1


def test_session_logout_without_csrf_token_is_403(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert_error(client.post(LOGOUT), 403, "csrf_failed")
    assert client.get(ME).status_code == 200


def test_token_request_is_not_csrf_checked_even_with_session_cookies(make_user):
    # given: a client carrying someone's session cookie and a token header, with no CSRF token
    session_user, token_user, other = make_user(), make_user(), make_user()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(session_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(token_user)}")
    # when
    r = client.post(REQUESTS, {"to": other.number}, format="json")
    # then: the token alone decides who is calling, and no CSRF check applies
    assert r.status_code == 201
    assert r.json()["from"]["number"] == token_user.number
    assert not session_user.friend_requests_sent.exists()


def test_bad_token_with_a_session_cookie_is_still_401(make_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user())
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(client.get(ME), 401, "not_authenticated")


def test_register_and_token_need_no_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert register(client, username="fresh").status_code == 201
    assert login(client, user.username, PASSWORD).status_code == 200


def test_unknown_api_path_is_json_404(api):
    assert_error(api.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405(api):
    assert_error(api.delete(ME), 405, "method_not_allowed")
    assert_error(api.get(TOKEN), 405, "method_not_allowed")


def test_trailing_slash_also_works(anon):
    r = anon.post(REGISTER + "/", {"username": "slashy", "password": GOOD_PASSWORD}, format="json")
    assert r.status_code == 201
