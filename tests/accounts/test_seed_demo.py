"""`python manage.py seed_demo`: with DEBUG on, the demo people and their friendships, request and
block, created once however often the command runs; with DEBUG off, no account at all."""

from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client

from accounts.demo import DEMO_PASSWORD, DemoAccountsRefused, seed_accounts
from accounts.models import Block, FriendRequest, Friendship, User
from coins.models import TopupPackage

pytestmark = pytest.mark.django_db

DEMO_USERNAMES = ["alice", "bob", "carol", "dave", "erin"]


@pytest.fixture(autouse=True)
def _debug_on(settings) -> None:
    """Demo accounts exist only with DEBUG on (`make dev`); the DEBUG-off tests turn it back off."""
    settings.DEBUG = True


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "friendships": Friendship.objects.count(),
        "requests": FriendRequest.objects.count(),
        "pending": FriendRequest.objects.filter(status=FriendRequest.Status.PENDING).count(),
        "blocks": Block.objects.count(),
    }


def person(username: str) -> User:
    return User.objects.get(username=username)


def test_seed_creates_the_demo_people_and_an_operator() -> None:
    output = seed()

    assert set(User.objects.values_list("username", flat=True)) == {*DEMO_USERNAMES, "admin"}
    assert person("alice").display_name == "Alice Wang"
    assert person("alice").signature == "Coffee first, then code."
    numbers = [person(name).number for name in DEMO_USERNAMES]
    assert len(set(numbers)) == 5
    assert all(n >= 10000 for n in numbers)
    admin = person("admin")
    assert admin.is_superuser and admin.is_staff
    assert not any(person(name).is_staff for name in DEMO_USERNAMES)
    for name in DEMO_USERNAMES:
        assert f"{name} #{person(name).number}" in output
    assert DEMO_PASSWORD in output


def test_seed_makes_friends_in_buddy_groups() -> None:
    seed()

    groups = {
        (f.user.username, f.friend.username): f.group
        for f in Friendship.objects.select_related("user", "friend")
    }

    assert groups == {
        ("alice", "bob"): "Classmates",
        ("bob", "alice"): Friendship.DEFAULT_GROUP,
        ("alice", "carol"): Friendship.DEFAULT_GROUP,
        ("carol", "alice"): Friendship.DEFAULT_GROUP,
        ("bob", "carol"): Friendship.DEFAULT_GROUP,
        ("carol", "bob"): Friendship.DEFAULT_GROUP,
        ("alice", "dave"): "Family",
        ("dave", "alice"): Friendship.DEFAULT_GROUP,
    }


def test_seed_leaves_a_pending_request_from_erin_to_alice() -> None:
    seed()

    pending = FriendRequest.objects.filter(status=FriendRequest.Status.PENDING)

    assert [(r.from_user.username, r.to_user.username) for r in pending] == [("erin", "alice")]
    assert pending.get().message


def test_seed_has_carol_block_erin() -> None:
    seed()

    assert [(b.blocker.username, b.blocked.username) for b in Block.objects.all()] == [("carol", "erin")]


def test_seed_twice_changes_nothing() -> None:
    seed()
    before = counts()
    numbers = dict(User.objects.values_list("username", "number"))
    groups = set(Friendship.objects.values_list("user_id", "friend_id", "group"))

    seed()

    assert counts() == before
    assert dict(User.objects.values_list("username", "number")) == numbers
    assert set(Friendship.objects.values_list("user_id", "friend_id", "group")) == groups
    assert before == {"users": 6, "friendships": 8, "requests": 5, "pending": 1, "blocks": 1}


def test_seed_after_alice_declined_erin_does_not_ask_again() -> None:
    seed()
    FriendRequest.objects.filter(from_user__username="erin").update(status=FriendRequest.Status.DECLINED)

    seed()

    assert not FriendRequest.objects.filter(status=FriendRequest.Status.PENDING).exists()


def test_demo_people_log_in_with_the_demo_password() -> None:
    seed()

    for username in [*DEMO_USERNAMES, "admin"]:
        client = Client()
        response = client.post("/login/", {"username": username, "password": DEMO_PASSWORD})

        assert response.status_code == 302, username
        assert response["Location"] == "/"
        assert client.session[SESSION_KEY] == str(person(username).pk)


def test_the_demo_password_is_the_one_make_dev_prints() -> None:
    makefile = (settings.BASE_DIR / "Makefile").read_text()

    assert f"password {DEMO_PASSWORD}" in makefile


def test_alice_sees_the_seeded_friends_and_request_on_her_home_page(client: Client) -> None:
    seed()
    client.force_login(person("alice"))

    response = client.get("/")

    assert response.templates[0].name == "home/chat.html"
    data = response.context["chat_data"]
    groups = {f["user"]["display_name"]: f["group"] for f in data["friends"]}
    assert groups["Bob Li"] == "Classmates"
    assert "Family" in groups.values()
    [request] = data["requests"]["incoming"]
    assert request["from"]["display_name"] == "Erin Liu"
    assert "we met at the meetup" in request["message"]
    html = response.content.decode()
    assert 'id="chat-data"' in html
    assert "Bob Li" in html  # in the page's data script
    assert "we met at the meetup" in html


def test_with_debug_off_seed_creates_no_account_but_the_packages(settings) -> None:
    settings.DEBUG = False

    output = seed()

    assert not User.objects.exists()
    assert TopupPackage.objects.filter(active=True).count() == 4
    assert DEMO_PASSWORD not in output
    assert "no demo accounts" in output


def test_with_debug_off_seed_twice_changes_nothing(settings) -> None:
    settings.DEBUG = False
    seed()

    seed()

    assert not User.objects.exists()
    assert TopupPackage.objects.count() == 4


def test_seed_accounts_refuses_with_debug_off(settings) -> None:
    settings.DEBUG = False

    with pytest.raises(DemoAccountsRefused):
        seed_accounts()

    assert not User.objects.exists()


def test_the_readme_never_tells_operators_to_seed_with_debug_off() -> None:
    readme = (settings.BASE_DIR / "README.md").read_text()
    operators = readme[readme.index("## Running on PostgreSQL and Redis") :]

    for line in operators.splitlines():
        if "manage.py seed_demo" in line:
            assert "DEBUG" in line or "no account" in line, line
