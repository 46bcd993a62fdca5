"""Rate limits on the accounts pages and endpoints (CONTRACT section 2): the website's `/register/`
shares the sign-up limit of `auth/register`; profile edits and people search count in the per-user
`actions` bucket."""

from collections.abc import Callable

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from tests.api_helpers import assert_error

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "Quiet-Lantern-4821"


def web_register(username: str, remote_addr: str = "127.0.0.1"):
    return Client().post(
        "/register/", {"username": username, "password": GOOD_PASSWORD}, REMOTE_ADDR=remote_addr
    )


def api_register(username: str, remote_addr: str = "127.0.0.1"):
    return APIClient().post(
        "/api/v1/auth/register",
        {"username": username, "password": GOOD_PASSWORD},
        format="json",
        REMOTE_ADDR=remote_addr,
    )


@pytest.fixture
def two_signups_an_hour(settings) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register": "2/hour"}


@pytest.fixture
def two_actions_a_minute(settings) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "actions": "2/minute"}


# --- /register/ -------------------------------------------------------------------------------------


def test_web_register_is_limited_per_address(two_signups_an_hour) -> None:
    assert web_register("first").status_code == 302
    assert web_register("second").status_code == 302

    response = web_register("third")

    assert response.status_code == 429
    assert "Too many sign-ups" in response.content.decode()
    assert 'name="username"' in response.content.decode()  # the form is still there
    assert not User.objects.filter(username="third").exists()
    # and another address is not affected
    assert web_register("fourth", remote_addr="10.9.8.7").status_code == 302


def test_web_and_api_share_the_signup_limit(two_signups_an_hour) -> None:
    assert api_register("first").status_code == 201
    assert web_register("second").status_code == 302

    assert web_register("third").status_code == 429
    assert_error(api_register("fourth"), 429, "rate_limited")
    assert not User.objects.filter(username__in=["third", "fourth"]).exists()


def test_web_signups_count_against_the_api(two_signups_an_hour) -> None:
    assert web_register("first").status_code == 302
    assert web_register("second").status_code == 302

    r = api_register("third")

    assert_error(r, 429, "rate_limited")
    assert 0 < int(r["Retry-After"]) <= 3600


def test_web_register_page_itself_is_not_counted(two_signups_an_hour) -> None:
    for _ in range(5):
        assert Client().get("/register/").status_code == 200
    assert web_register("first").status_code == 302


# --- actions: PATCH me, GET users?q= -----------------------------------------------------------------


def test_profile_edits_are_rate_limited(two_actions_a_minute, api: APIClient) -> None:
    for name in ("One", "Two"):
        assert api.patch("/api/v1/me", {"display_name": name}, format="json").status_code == 200

    r = api.patch("/api/v1/me", {"display_name": "Three"}, format="json")

    assert_error(r, 429, "rate_limited")
    assert 0 < int(r["Retry-After"]) <= 60
    assert api.get("/api/v1/me").json()["display_name"] == "Two"


def test_reading_the_profile_is_not_counted(two_actions_a_minute, api: APIClient) -> None:
    for _ in range(5):
        assert api.get("/api/v1/me").status_code == 200
    assert api.patch("/api/v1/me", {"signature": "hi"}, format="json").status_code == 200


def test_people_search_is_rate_limited(two_actions_a_minute, api: APIClient) -> None:
    for _ in range(2):
        assert api.get("/api/v1/users", {"q": "someone"}).status_code == 200

    r = api.get("/api/v1/users", {"q": "someone"})

    assert_error(r, 429, "rate_limited")
    assert 0 < int(r["Retry-After"]) <= 60


def test_the_actions_limit_is_per_user(
    two_actions_a_minute, api: APIClient, make_user: Callable[..., User], client_for
) -> None:
    for _ in range(3):
        api.get("/api/v1/users", {"q": "someone"})

    other = client_for(make_user())

    assert other.get("/api/v1/users", {"q": "someone"}).status_code == 200
