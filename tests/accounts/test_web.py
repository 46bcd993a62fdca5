"""The website's account pages (CONTRACT section 8): welcome and home (the chat page's shell and
its initial data), log in and out, sign up, settings, friend requests by form, error pages and the
default avatar."""

import io
import json
import re
from collections.abc import Callable

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.models import FriendRequest, Friendship, User
from tests.factories import PASSWORD, BlockFactory, FriendRequestFactory, UserFactory, make_friends

pytestmark = pytest.mark.django_db


def page(response) -> str:
    return response.content.decode()


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def first_template(response) -> str:
    return response.templates[0].name


def chat_data(response) -> dict:
    """The chat page's initial data, as the browser reads it (the json_script element)."""
    found = re.search(r'<script id="chat-data" type="application/json">(.*?)</script>', page(response), re.S)
    assert found, "the chat page has no #chat-data script"
    return json.loads(found.group(1))


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get(SESSION_KEY)


def png_bytes(size: tuple[int, int] = (4, 4), image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=image_format)
    return buffer.getvalue()


# --- / ----------------------------------------------------------------------------------------------


def test_home_shows_the_welcome_page_to_anonymous_visitors(client: Client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert first_template(response) == "home/welcome.html"
    html = page(response)
    assert 'href="/register/"' in html
    assert 'href="/login/"' in html
    assert "Friend requests" not in html


def test_home_of_a_logged_in_user_is_the_chat_page_with_its_named_parts(client: Client, user: User) -> None:
    client.force_login(user)

    response = client.get("/")

    assert response.status_code == 200
    assert first_template(response) == "home/chat.html"
    html = page(response)
    # The accessible names browser tests and assistive technology find the parts by (CONTRACT 8).
    assert 'aria-label="Conversations"' in html
    assert 'aria-label="Messages"' in html
    assert re.search(r'<label for="composer-input"[^>]*>Message</label>', html)
    assert re.search(r'<button type="submit" id="composer-send">Send</button>', html)
    assert 'aria-label="Balance"' in html
    assert 'role="status" aria-label="Connection"' in html
    # Modules only, no inline script (CSP script-src 'self'): the data is a JSON script element.
    assert re.search(r'<script type="module" src="/static/js/chat/main\.js">', html)
    assert '<link rel="stylesheet" href="/static/css/chat.css">' in html
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) == []
    data = chat_data(response)
    assert data["me"]["number"] == user.number
    assert data["me"]["display_name"] == user.display_name
    assert data["body_max"] == 4000
    assert data["urls"]["api"] == "/api/v1/"
    assert data["urls"]["socket"] == "/ws/"
    assert data["urls"]["default_avatar"] == "/avatars/default/{number}.svg"
    assert data["csrf_token"]


def test_home_data_has_friends_by_buddy_group_and_pending_requests(
    client: Client, user: User, make_user: Callable[..., User]
) -> None:
    # given
    classmate = make_user(display_name="Bob Classmate")
    cousin = make_user(display_name="Dana Cousin")
    other = make_user(display_name="Carl Other")
    make_friends(user, classmate, group="Classmates")
    make_friends(user, cousin, group="Family")
    make_friends(user, other)
    asker = make_user(display_name="Erin Asker")
    FriendRequestFactory(from_user=asker, to_user=user, message="Met you at the meetup")
    answered = make_user(display_name="Old Request")
    FriendRequestFactory(from_user=answered, to_user=user, status=FriendRequest.Status.DECLINED)
    asked = make_user(display_name="Fay Asked")
    FriendRequestFactory(from_user=user, to_user=asked)
    client.force_login(user)

    # when
    data = chat_data(client.get("/"))

    # then: the API's shapes (GET friends, GET friends/requests)
    friends = [(f["group"], f["user"]["display_name"]) for f in data["friends"]]
    assert friends == [
        ("Classmates", "Bob Classmate"),
        ("Family", "Dana Cousin"),
        (Friendship.DEFAULT_GROUP, "Carl Other"),
    ]
    first = data["friends"][0]["user"]
    assert set(first) == {"number", "username", "display_name", "signature", "avatar_url", "presence"}
    assert first["number"] == classmate.number
    assert first["presence"] == "offline"
    [incoming] = data["requests"]["incoming"]
    assert (incoming["from"]["display_name"], incoming["message"]) == ("Erin Asker", "Met you at the meetup")
    assert incoming["id"] == asker.friend_requests_sent.get().pk
    assert [r["to"]["display_name"] for r in data["requests"]["outgoing"]] == ["Fay Asked"]
    assert "Old Request" not in page(client.get("/"))


def test_home_without_friends_has_empty_lists_and_shows_the_users_number(client: Client, user: User) -> None:
    client.force_login(user)

    response = client.get("/")

    data = chat_data(response)
    assert data["friends"] == []
    assert data["requests"] == {"incoming": [], "outgoing": []}
    assert f"#{user.number}" in page(response)


def test_home_escapes_names_and_messages(client: Client, user: User, make_user: Callable[..., User]) -> None:
    friend = make_user(display_name="<b>Bold</b>")
    make_friends(user, friend, group="<i>group</i>")
    FriendRequestFactory(from_user=make_user(), to_user=user, message="<script>alert(1)</script>")
    user.display_name = "</script><b>Me</b>"
    user.save(update_fields=["display_name"])
    client.force_login(user)

    response = client.get("/")

    html = page(response)
    assert "<b>Bold</b>" not in html
    assert "<i>group</i>" not in html
    assert "<script>alert" not in html
    assert "<b>Me</b>" not in html
    assert "&lt;/script&gt;&lt;b&gt;Me&lt;/b&gt;" in html  # the server-rendered name
    data = chat_data(response)  # the JSON escapes <, > and &, and reads back as the same text
    assert data["friends"][0]["user"]["display_name"] == "<b>Bold</b>"
    assert data["friends"][0]["group"] == "<i>group</i>"
    assert data["requests"]["incoming"][0]["message"] == "<script>alert(1)</script>"
    assert data["me"]["display_name"] == "</script><b>Me</b>"


# --- /login/ -------------------------------------------------------------------------------------


def test_login_page_has_username_password_and_a_log_in_button(client: Client) -> None:
    response = client.get("/login/")

    assert response.status_code == 200
    html = page(response)
    assert re.search(r'<input[^>]*name="username"', html)
    assert re.search(r'<input[^>]*type="password"[^>]*name="password"', html)
    assert re.search(r'<label for="id_username">', html)
    assert re.search(r'<button type="submit">\s*Log in\s*</button>', html)
    assert 'name="csrfmiddlewaretoken"' in html


def test_login_with_the_right_password_logs_in_and_redirects_home(client: Client, user: User) -> None:
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in_user_id(client) == str(user.pk)
    assert first_template(client.get("/")) == "home/chat.html"


def test_login_ignores_the_case_of_the_username(client: Client, user: User) -> None:
    response = client.post("/login/", {"username": user.username.upper(), "password": PASSWORD})

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(user.pk)


def test_login_follows_a_safe_next_but_not_an_outside_one(client: Client, user: User) -> None:
    response = client.post("/login/", {"username": user.username, "password": PASSWORD, "next": "/settings/"})
    assert response["Location"] == "/settings/"

    client.logout()
    response = client.post(
        "/login/", {"username": user.username, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_login_with_a_wrong_password_shows_an_error(client: Client, user: User) -> None:
    response = client.post("/login/", {"username": user.username, "password": "wrong-password"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in page(response)
    assert logged_in_user_id(client) is None


def test_login_of_an_unknown_user_shows_the_same_error(client: Client) -> None:
    response = client.post("/login/", {"username": "nobody-here", "password": "whatever-1234"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in page(response)


def test_after_five_failures_even_the_right_password_is_refused(client: Client, user: User) -> None:
    # given
    for _ in range(5):
        response = client.post("/login/", {"username": user.username, "password": "wrong-password"})
        assert "Too many failed logins" not in page(response)

    # when
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})

    # then
    assert response.status_code == 200
    assert "Too many failed logins" in page(response)
    assert logged_in_user_id(client) is None


def test_four_failures_then_the_right_password_still_logs_in(client: Client, user: User) -> None:
    for _ in range(4):
        client.post("/login/", {"username": user.username, "password": "wrong-password"})

    response = client.post("/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(user.pk)


def test_web_and_api_share_the_failed_login_limit(client: Client, user: User) -> None:
    # given: three failures on the site and two through the API
    for _ in range(3):
        client.post("/login/", {"username": user.username, "password": "wrong-password"})
    for _ in range(2):
        response = client.post(
            "/api/v1/auth/token",
            {"username": user.username, "password": "wrong-password"},
            content_type="application/json",
        )
        assert response.status_code == 400

    # then both refuse the right password
    response = client.post(
        "/api/v1/auth/token",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert "Too many failed logins" in page(response)


def test_a_logged_in_user_visiting_login_is_sent_home(client: Client, user: User) -> None:
    client.force_login(user)

    response = client.get("/login/")

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_form_is_csrf_protected(user: User) -> None:
    strict = Client(enforce_csrf_checks=True)

    response = strict.post("/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 403
    assert logged_in_user_id(strict) is None


# --- /register/ -------------------------------------------------------------------------------------


def test_register_creates_an_account_logs_in_and_shows_the_number(client: Client) -> None:
    response = client.post(
        "/register/",
        {"username": "newbie", "display_name": "New Bie", "email": "", "password": "Sturdy-Pass-4431"},
        follow=True,
    )

    user = User.objects.get(username="newbie")
    assert response.redirect_chain == [("/", 302)]
    assert user.display_name == "New Bie"
    assert user.number >= 10000
    assert user.check_password("Sturdy-Pass-4431")
    assert logged_in_user_id(client) == str(user.pk)
    assert f"Your account number is {user.number}." in page(response)


def test_register_page_has_labelled_fields(client: Client) -> None:
    html = page(client.get("/register/"))

    for name in ("username", "display_name", "email", "password"):
        assert f'<label for="id_{name}">' in html
        assert f'name="{name}"' in html


def test_register_with_a_taken_username_shows_a_field_error(client: Client, make_user) -> None:
    make_user(username="alice")

    response = client.post("/register/", {"username": "ALICE", "password": "Sturdy-Pass-4431"})

    assert response.status_code == 200
    assert response.context["form"].errors["username"] == ["This username is already taken."]
    assert "This username is already taken." in page(response)
    assert User.objects.filter(username__iexact="alice").count() == 1
    assert logged_in_user_id(client) is None


def test_register_with_a_weak_password_shows_a_field_error(client: Client) -> None:
    response = client.post("/register/", {"username": "weakling", "password": "12345"})

    assert response.status_code == 200
    errors = response.context["form"].errors["password"]
    assert any("too short" in e for e in errors)
    assert "too short" in page(response)
    assert not User.objects.filter(username="weakling").exists()


def test_register_with_an_invalid_username_shows_a_field_error(client: Client) -> None:
    response = client.post("/register/", {"username": "no spaces!", "password": "Sturdy-Pass-4431"})

    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert not User.objects.filter(username="no spaces!").exists()


def test_register_when_logged_in_sends_you_home(client: Client, user: User) -> None:
    client.force_login(user)

    response = client.post("/register/", {"username": "second", "password": "Sturdy-Pass-4431"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not User.objects.filter(username="second").exists()


# --- /logout/ ------------------------------------------------------------------------------------------


def test_logout_by_post_logs_out(client: Client, user: User) -> None:
    client.force_login(user)

    response = client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in_user_id(client) is None
    assert first_template(client.get("/")) == "home/welcome.html"


def test_logout_by_get_is_refused(client: Client, user: User) -> None:
    client.force_login(user)

    response = client.get("/logout/")

    assert response.status_code == 405
    assert logged_in_user_id(client) == str(user.pk)


def test_every_page_of_a_logged_in_user_has_a_logout_form(client: Client, user: User) -> None:
    client.force_login(user)

    html = page(client.get("/settings/"))

    assert re.search(r'<form method="post" action="/logout/"[^>]*>\s*<input type="hidden" name="csrf', html)


# --- /settings/ -----------------------------------------------------------------------------------------


def test_settings_requires_login(client: Client) -> None:
    response = client.get("/settings/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/settings/"


def test_settings_shows_the_current_profile(client: Client, make_user) -> None:
    user = make_user(display_name="Shown Name", signature="My motto")
    client.force_login(user)

    response = client.get("/settings/")

    assert response.status_code == 200
    html = page(response)
    assert 'value="Shown Name"' in html
    assert 'value="My motto"' in html
    assert f"Account number {user.number}" in html


def test_settings_saves_profile_changes(client: Client, user: User) -> None:
    client.force_login(user)

    response = client.post(
        "/settings/",
        {
            "display_name": "  Renamed  ",
            "signature": "Out hiking",
            "email": "me@example.com",
            "presence": "busy",
        },
        follow=True,
    )

    assert response.redirect_chain == [("/settings/", 302)]
    assert "Your profile was saved." in page(response)
    user.refresh_from_db()
    assert (user.display_name, user.signature, user.email, user.presence) == (
        "Renamed",
        "Out hiking",
        "me@example.com",
        "busy",
    )
    assert user.read_receipts is False  # an unticked checkbox is "off"


def test_settings_rejects_an_invalid_profile(client: Client, user: User) -> None:
    client.force_login(user)
    before = user.display_name

    response = client.post(
        "/settings/", {"display_name": "", "email": "not-an-email", "presence": "sleeping"}
    )

    assert response.status_code == 200
    errors = response.context["profile_form"].errors
    assert set(errors) == {"display_name", "email", "presence"}
    user.refresh_from_db()
    assert user.display_name == before


def test_settings_uploads_an_avatar(client: Client, user: User) -> None:
    client.force_login(user)
    upload = SimpleUploadedFile("me.png", png_bytes(), content_type="image/png")

    response = client.post("/settings/", {"form": "avatar", "avatar": upload}, follow=True)

    assert response.redirect_chain == [("/settings/", 302)]
    assert "Your avatar was updated." in page(response)
    user.refresh_from_db()
    assert user.avatar.name.startswith(f"avatars/{user.number}-")
    assert user.avatar.name.endswith(".png")
    assert user.avatar.storage.exists(user.avatar.name)
    assert f'src="{user.avatar.url}"' in page(response)


def test_replacing_the_avatar_deletes_the_old_file(client: Client, user: User) -> None:
    client.force_login(user)
    client.post("/settings/", {"form": "avatar", "avatar": SimpleUploadedFile("a.png", png_bytes())})
    user.refresh_from_db()
    first = user.avatar.name

    client.post(
        "/settings/",
        {"form": "avatar", "avatar": SimpleUploadedFile("b.jpg", png_bytes(image_format="JPEG"))},
    )

    user.refresh_from_db()
    assert user.avatar.name.endswith(".jpg")
    assert user.avatar.name != first
    assert not user.avatar.storage.exists(first)


def test_settings_rejects_a_non_image_avatar(client: Client, user: User) -> None:
    client.force_login(user)
    upload = SimpleUploadedFile("evil.png", b"<html>not an image</html>", content_type="image/png")

    response = client.post("/settings/", {"form": "avatar", "avatar": upload})

    assert response.status_code == 200
    assert response.context["avatar_form"].errors["avatar"] == ["Not a readable image."]
    assert "Not a readable image." in page(response)
    user.refresh_from_db()
    assert not user.avatar


def test_settings_rejects_an_image_of_another_format(client: Client, user: User) -> None:
    client.force_login(user)
    upload = SimpleUploadedFile("anim.gif", png_bytes(image_format="GIF"), content_type="image/gif")

    response = client.post("/settings/", {"form": "avatar", "avatar": upload})

    assert response.status_code == 200
    assert "GIF images are not accepted" in page(response)
    user.refresh_from_db()
    assert not user.avatar


def test_submitting_the_avatar_form_without_a_file_asks_for_one(client: Client, user: User) -> None:
    client.force_login(user)
    before = user.display_name

    response = client.post("/settings/", {"form": "avatar"})

    assert response.status_code == 200
    assert response.context["avatar_form"].errors["avatar"]
    assert not response.context["profile_form"].errors
    user.refresh_from_db()
    assert user.display_name == before


# --- Friend requests from the home page ---------------------------------------------------------------


def test_sending_a_friend_request_by_account_number(client: Client, user: User, make_user) -> None:
    other = make_user(display_name="Far Friend")
    client.force_login(user)

    response = client.post("/friends/requests/", {"number": other.number, "message": " Hello! "}, follow=True)

    assert response.redirect_chain == [("/", 302)]
    request = FriendRequest.objects.get(from_user=user, to_user=other)
    assert (request.status, request.message) == (FriendRequest.Status.PENDING, "Hello!")
    assert f"Friend request sent to Far Friend (#{other.number})." in page(response)
    assert [r["to"]["number"] for r in chat_data(response)["requests"]["outgoing"]] == [other.number]


@pytest.mark.parametrize(
    ("number", "error"),
    [
        ("", "Enter the account number of the person to add."),
        ("abc", "An account number is a whole number."),
        ("42", "Account numbers start at 10000."),
        ("99999999", "No user has this number."),
    ],
)
def test_sending_a_friend_request_to_a_bad_number_flashes_an_error(
    client: Client, user: User, number: str, error: str
) -> None:
    client.force_login(user)

    response = client.post("/friends/requests/", {"number": number})

    assert response.status_code == 302
    assert flashes(response) == [error]
    assert not FriendRequest.objects.exists()


def test_sending_a_friend_request_to_yourself_flashes_an_error(client: Client, user: User) -> None:
    client.force_login(user)

    response = client.post("/friends/requests/", {"number": user.number})

    assert flashes(response) == ["You cannot befriend yourself."]
    assert not FriendRequest.objects.exists()


def test_sending_a_friend_request_to_a_friend_or_twice_flashes_an_error(
    client: Client, user: User, make_user
) -> None:
    friend, stranger = make_user(), make_user()
    make_friends(user, friend)
    client.force_login(user)

    assert flashes(client.post("/friends/requests/", {"number": friend.number})) == [
        "You are already friends."
    ]
    client.post("/friends/requests/", {"number": stranger.number}, follow=True)  # shows its message
    assert flashes(client.post("/friends/requests/", {"number": stranger.number})) == [
        "A friend request between you is already waiting for an answer."
    ]
    assert FriendRequest.objects.filter(from_user=user).count() == 1


def test_sending_a_friend_request_across_a_block_flashes_an_error(client: Client, user: User) -> None:
    block = BlockFactory(blocked=user)
    client.force_login(user)

    response = client.post("/friends/requests/", {"number": block.blocker.number})

    assert flashes(response) == ["You cannot do this with this person."]
    assert not FriendRequest.objects.exists()


def test_accepting_a_friend_request_makes_friends(client: Client, user: User) -> None:
    request = FriendRequestFactory(to_user=user, from_user=UserFactory(display_name="Asker"))
    client.force_login(user)

    response = client.post(f"/friends/requests/{request.pk}/accept/", follow=True)

    assert response.redirect_chain == [("/", 302)]
    request.refresh_from_db()
    assert request.status == FriendRequest.Status.ACCEPTED
    assert Friendship.objects.filter(user=user, friend=request.from_user).exists()
    assert Friendship.objects.filter(user=request.from_user, friend=user).exists()
    assert "You and Asker are now friends." in page(response)
    data = chat_data(response)
    assert data["requests"]["incoming"] == []
    assert [(f["group"], f["user"]["display_name"]) for f in data["friends"]] == [
        (Friendship.DEFAULT_GROUP, "Asker")
    ]


def test_declining_a_friend_request(client: Client, user: User) -> None:
    request = FriendRequestFactory(to_user=user, from_user=UserFactory(display_name="Asker"))
    client.force_login(user)

    response = client.post(f"/friends/requests/{request.pk}/decline/", follow=True)

    request.refresh_from_db()
    assert request.status == FriendRequest.Status.DECLINED
    assert not Friendship.objects.exists()
    assert "You declined the request from Asker." in page(response)
    assert chat_data(response)["requests"]["incoming"] == []


def test_only_the_recipient_can_answer_a_request(client: Client, user: User) -> None:
    request = FriendRequestFactory()  # between two other people
    client.force_login(user)

    for action in ("accept", "decline"):
        response = client.post(f"/friends/requests/{request.pk}/{action}/", follow=True)
        assert [str(m) for m in response.context["messages"]] == ["No such friend request."]
    request.refresh_from_db()
    assert request.status == FriendRequest.Status.PENDING
    assert not Friendship.objects.exists()


def test_accepting_a_declined_request_flashes_an_error(client: Client, user: User) -> None:
    request = FriendRequestFactory(to_user=user, status=FriendRequest.Status.DECLINED)
    client.force_login(user)

    response = client.post(f"/friends/requests/{request.pk}/accept/")

    assert flashes(response) == ["This friend request was already answered."]
    assert not Friendship.objects.exists()


def test_friend_request_actions_need_login_post_and_csrf(client: Client, user: User) -> None:
    request = FriendRequestFactory(to_user=user)

    response = client.post(f"/friends/requests/{request.pk}/accept/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")

    client.force_login(user)
    assert client.get(f"/friends/requests/{request.pk}/accept/").status_code == 405
    assert client.get("/friends/requests/").status_code == 405

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(f"/friends/requests/{request.pk}/accept/").status_code == 403
    assert strict.post("/friends/requests/", {"number": UserFactory().number}).status_code == 403
    request.refresh_from_db()
    assert request.status == FriendRequest.Status.PENDING
    assert FriendRequest.objects.count() == 1


# --- Error pages and the default avatar ------------------------------------------------------------------


def test_an_unknown_page_is_the_html_404_page(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page(response)


def test_an_unknown_api_path_is_json_even_with_debug_on(client: Client, settings) -> None:
    settings.DEBUG = True

    response = client.get("/api/v1/does-not-exist")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "not_found"
    assert isinstance(body["detail"], str)


def test_the_default_avatar_is_an_svg_with_the_initial(client: Client, make_user) -> None:
    user = make_user(display_name="zoe")

    response = client.get(f"/avatars/default/{user.number}.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert ">Z</text>" in page(response)


def test_the_default_avatar_escapes_the_display_name(client: Client, make_user) -> None:
    user = make_user(display_name="<script>alert(1)</script>")

    response = client.get(f"/avatars/default/{user.number}.svg")

    svg = page(response)
    assert response.status_code == 200
    assert "<script" not in svg
    assert ">&lt;</text>" in svg


def test_the_default_avatar_of_an_unknown_number_is_a_placeholder(client: Client) -> None:
    response = client.get("/avatars/default/99999999.svg")

    assert response.status_code == 200
    assert ">?</text>" in page(response)
