"""The operators' admin for people, friendships, requests, blocks and device tokens."""

import pytest
from django.test import Client

from accounts.models import DeviceToken, User
from tests.conftest import token_for
from tests.factories import BlockFactory, FriendRequestFactory, UserFactory, make_friends

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> User:
    return User.objects.create_superuser("operator", password="Operator-Pass-9911", display_name="Operator")


@pytest.fixture
def admin_client(client: Client, operator: User) -> Client:
    client.force_login(operator)
    return client


def found(response) -> list:
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize("model", ["user", "friendship", "friendrequest", "block", "devicetoken"])
def test_changelists_load(admin_client: Client, model: str) -> None:
    # given one of everything
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    make_friends(alice, bob, group="Classmates")
    FriendRequestFactory(from_user=carol, to_user=alice)
    BlockFactory(blocker=carol, blocked=bob)
    token_for(alice)

    # when
    response = admin_client.get(f"/admin/accounts/{model}/")

    # then
    assert response.status_code == 200
    assert found(response)


def test_admin_needs_staff(client: Client) -> None:
    client.force_login(UserFactory())

    response = client.get("/admin/accounts/user/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_users_are_found_by_account_number(admin_client: Client) -> None:
    users = [UserFactory() for _ in range(3)]
    wanted = users[1]

    response = admin_client.get("/admin/accounts/user/", {"q": str(wanted.number)})

    assert response.status_code == 200
    assert found(response) == [wanted]


def test_users_are_found_by_username(admin_client: Client) -> None:
    wanted = UserFactory(username="margaret")
    UserFactory(username="bob")

    response = admin_client.get("/admin/accounts/user/", {"q": "MARGA"})

    assert found(response) == [wanted]


def test_a_number_search_finds_nobody_for_an_unused_number(admin_client: Client) -> None:
    UserFactory()

    response = admin_client.get("/admin/accounts/user/", {"q": "99999999"})

    assert response.status_code == 200
    assert found(response) == []


def test_friendships_are_found_by_either_side_number(admin_client: Client) -> None:
    alice, bob, carol, dave = (UserFactory() for _ in range(4))
    make_friends(alice, bob)
    make_friends(carol, dave)

    response = admin_client.get("/admin/accounts/friendship/", {"q": str(bob.number)})

    assert {(f.user, f.friend) for f in found(response)} == {(alice, bob), (bob, alice)}


def test_the_user_change_page_shows_the_number_read_only(admin_client: Client) -> None:
    person = UserFactory(display_name="Read Only")

    response = admin_client.get(f"/admin/accounts/user/{person.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert str(person.number) in html
    assert 'name="number"' not in html
    assert 'name="display_name"' in html


def test_posting_a_number_to_the_user_change_page_does_not_change_it(admin_client: Client) -> None:
    person = UserFactory()
    number = person.number

    response = admin_client.post(
        f"/admin/accounts/user/{person.pk}/change/",
        {
            "number": "12345678",
            "username": person.username,
            "display_name": "Changed By Admin",
            "signature": "",
            "email": "",
            "presence": "online",
            "read_receipts": "on",
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.display_name == "Changed By Admin"
    assert person.number == number


def test_device_tokens_cannot_be_added(admin_client: Client) -> None:
    response = admin_client.get("/admin/accounts/devicetoken/add/")

    assert response.status_code == 403
    assert (
        b'href="/admin/accounts/devicetoken/add/"'
        not in admin_client.get("/admin/accounts/devicetoken/").content
    )


def test_a_device_token_can_be_revoked_and_its_digest_is_not_shown(admin_client: Client) -> None:
    owner = UserFactory()
    token_for(owner)
    token = DeviceToken.objects.get(user=owner)

    page = admin_client.get(f"/admin/accounts/devicetoken/{token.pk}/change/")
    assert page.status_code == 200
    assert token.digest not in page.content.decode()

    response = admin_client.post(f"/admin/accounts/devicetoken/{token.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not DeviceToken.objects.filter(pk=token.pk).exists()
