"""`/admin/login/` shares the failed-login counts of `auth/token` and `/login/` (CONTRACT section 2)
and keeps the admin's own rule that only staff may log in."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
TOKEN = "/api/v1/auth/token"


@pytest.fixture
def operator() -> User:
    return UserFactory(username="operator", is_staff=True, is_superuser=True)


def admin_login(client: Client, username: str, password: str):
    return client.post(ADMIN_LOGIN, {"username": username, "password": password, "next": "/admin/"})


def api_login(username: str, password: str):
    return APIClient().post(TOKEN, {"username": username, "password": password}, format="json")


def logged_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def test_staff_with_the_right_password_logs_in(client: Client, operator: User) -> None:
    response = admin_login(client, "operator", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert logged_in(client)


def test_wrong_password_is_refused(client: Client, operator: User) -> None:
    response = admin_login(client, "operator", "wrong-password-1")

    assert response.status_code == 200
    assert "Please enter the correct username and password for a staff account" in response.content.decode()
    assert not logged_in(client)


def test_non_staff_is_refused_even_with_the_right_password(client: Client, user: User) -> None:
    response = admin_login(client, user.username, PASSWORD)

    assert response.status_code == 200
    assert "for a staff account" in response.content.decode()
    assert not logged_in(client)


def test_five_admin_failures_lock_the_account_there_and_on_the_api(client: Client, operator: User) -> None:
    # given
    for _ in range(5):
        response = admin_login(client, "operator", "wrong-password-1")
        assert "Too many failed logins" not in response.content.decode()
    # when: the right password
    response = admin_login(client, "operator", PASSWORD)
    # then: refused on the admin page and on the API
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()
    assert not logged_in(client)
    assert api_login("operator", PASSWORD).status_code == 429


def test_api_failures_lock_the_admin_login(client: Client, operator: User) -> None:
    for _ in range(3):
        assert api_login("operator", "wrong-password-1").status_code == 400
    for _ in range(2):
        client.post("/login/", {"username": "operator", "password": "wrong-password-1"})

    response = admin_login(client, "operator", PASSWORD)

    assert "Too many failed logins" in response.content.decode()
    assert not logged_in(client)


def test_admin_failures_from_one_address_lock_that_address(client: Client, settings) -> None:
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    people = [UserFactory(is_staff=True) for _ in range(4)]
    for person in people[:3]:
        admin_login(client, person.username, "wrong-password-1")

    response = admin_login(client, people[3].username, PASSWORD)

    assert "Too many failed logins" in response.content.decode()
    assert not logged_in(client)
