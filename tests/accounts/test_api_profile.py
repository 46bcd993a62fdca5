"""Own profile, avatars, public profiles and search (CONTRACT section 3)."""

import io
import os

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from accounts.presence import socket_opened
from tests.api_helpers import assert_error, public

ME = "/api/v1/me"
AVATAR = "/api/v1/me/avatar"
USERS = "/api/v1/users"
PUBLIC_FIELDS = {"number", "username", "display_name", "signature", "avatar_url", "presence"}
MIB = 1024 * 1024


def image_bytes(image_format: str, size: tuple[int, int] = (8, 8), noise: bool = False) -> bytes:
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (200, 40, 90))
    out = io.BytesIO()
    image.save(out, format=image_format)
    return out.getvalue()


def upload(client: APIClient, data: bytes, name: str = "avatar.png", content_type: str = "image/png"):
    return client.put(
        AVATAR, {"avatar": SimpleUploadedFile(name, data, content_type=content_type)}, format="multipart"
    )


# --- GET/PATCH me ----------------------------------------------------------------------------------


def test_me_shows_the_private_profile(api, user):
    user.email = "me@example.com"
    user.save(update_fields=["email"])
    r = api.get(ME)
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= PUBLIC_FIELDS
    assert body["number"] == user.number
    assert body["username"] == user.username
    assert body["display_name"] == user.display_name
    assert body["email"] == "me@example.com"
    assert body["read_receipts"] is True
    assert body["presence"] == "online"
    assert body["avatar_url"] == f"/avatars/default/{user.number}.svg"
    assert "password" not in body


def test_patch_me_changes_and_answers_the_updated_profile(api, user):
    # when
    r = api.patch(
        ME,
        {
            "display_name": "  New Name ",
            "signature": "hello there",
            "email": "new@example.com",
            "presence": "busy",
        },
        format="json",
    )
    # then
    assert r.status_code == 200
    body = r.json()
    assert body["display_name"] == "New Name"
    assert body["signature"] == "hello there"
    assert body["email"] == "new@example.com"
    assert body["presence"] == "busy"
    user.refresh_from_db()
    assert (user.display_name, user.signature, user.email, user.presence) == (
        "New Name",
        "hello there",
        "new@example.com",
        "busy",
    )
    assert api.get(ME).json() == body


def test_patch_me_only_changes_what_is_sent(api, user):
    user.signature = "keep me"
    user.save(update_fields=["signature"])
    r = api.patch(ME, {"presence": "away"}, format="json")
    assert r.status_code == 200
    assert r.json()["signature"] == "keep me"
    assert r.json()["display_name"] == user.display_name


def test_patch_me_cannot_change_number_or_username(api, user):
    number, username = user.number, user.username
    r = api.patch(ME, {"number": 10, "username": "hijack"}, format="json")
    assert r.status_code in (200, 400)
    user.refresh_from_db()
    assert (user.number, user.username) == (number, username)
    assert api.get(ME).json()["number"] == number


def test_email_can_be_cleared(api, user):
    user.email = "me@example.com"
    user.save(update_fields=["email"])
    r = api.patch(ME, {"email": ""}, format="json")
    assert r.status_code == 200
    assert r.json()["email"] == ""


def test_invalid_email_is_400(api):
    body = assert_error(api.patch(ME, {"email": "nope"}, format="json"), 400, "invalid")
    assert body["fields"]["email"]


def test_read_receipts_can_be_turned_off_and_on(api, user):
    r = api.patch(ME, {"read_receipts": False}, format="json")
    assert r.status_code == 200
    assert r.json()["read_receipts"] is False
    user.refresh_from_db()
    assert user.read_receipts is False
    assert api.get(ME).json()["read_receipts"] is False
    assert api.patch(ME, {"read_receipts": True}, format="json").json()["read_receipts"] is True


@pytest.mark.parametrize("presence", ["offline", "sleeping", "", "ONLINE", 3])
def test_invalid_presence_is_400_with_fields(api, user, presence):
    body = assert_error(api.patch(ME, {"presence": presence}, format="json"), 400, "invalid")
    assert body["fields"]["presence"]
    user.refresh_from_db()
    assert user.presence == "online"


@pytest.mark.parametrize("presence", ["online", "away", "busy", "invisible"])
def test_every_presence_choice_is_accepted(api, presence):
    r = api.patch(ME, {"presence": presence}, format="json")
    assert r.status_code == 200
    assert r.json()["presence"] == presence


@pytest.mark.parametrize("display_name", ["", "   "])
def test_blank_display_name_is_400(api, user, display_name):
    before = user.display_name
    body = assert_error(api.patch(ME, {"display_name": display_name}, format="json"), 400, "invalid")
    assert body["fields"]["display_name"]
    user.refresh_from_db()
    assert user.display_name == before


def test_too_long_fields_are_400(api):
    body = assert_error(
        api.patch(ME, {"display_name": "x" * 65, "signature": "y" * 201}, format="json"), 400, "invalid"
    )
    assert set(body["fields"]) >= {"display_name", "signature"}


def test_invalid_read_receipts_is_400(api):
    body = assert_error(api.patch(ME, {"read_receipts": "perhaps"}, format="json"), 400, "invalid")
    assert body["fields"]["read_receipts"]


def test_invisible_is_shown_to_self_and_offline_to_friends(api, user, make_user, client_for, friends):
    # given: an online friend set to invisible
    friend = make_user()
    friends(user, friend)
    socket_opened(user.pk)
    # when
    assert api.patch(ME, {"presence": "invisible"}, format="json").json()["presence"] == "invisible"
    # then
    assert api.get(ME).json()["presence"] == "invisible"
    assert client_for(friend).get(f"{USERS}/{user.number}").json()["presence"] == "offline"
    friend_list = client_for(friend).get("/api/v1/friends").json()
    assert [f["user"]["presence"] for f in friend_list] == ["offline"]


def test_presence_change_is_told_to_online_friends(
    api, user, make_user, friends, captured_events, django_capture_on_commit_callbacks
):
    # given: the user and two friends, one of them online, and a stranger online
    online_friend, offline_friend, stranger = make_user(), make_user(), make_user()
    friends(user, online_friend)
    friends(user, offline_friend)
    for person in (user, online_friend, stranger):
        socket_opened(person.pk)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        api.patch(ME, {"presence": "busy"}, format="json")
    # then
    assert captured_events == [
        ([online_friend.pk], {"type": "presence", "user": user.number, "presence": "busy"})
    ]
    # and going invisible looks like going offline to them
    captured_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        api.patch(ME, {"presence": "invisible"}, format="json")
    assert captured_events == [
        ([online_friend.pk], {"type": "presence", "user": user.number, "presence": "offline"})
    ]


# --- PUT me/avatar -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image_format, content_type, extension",
    [("PNG", "image/png", "png"), ("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp")],
)
def test_avatar_upload_is_accepted(api, user, image_format, content_type, extension):
    # given
    data = image_bytes(image_format)
    assert api.get(ME).json()["avatar_url"] == f"/avatars/default/{user.number}.svg"
    # when
    r = upload(api, data, name=f"me.{extension}", content_type=content_type)
    # then
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["number"] == user.number
    assert "email" in body  # the caller's own (private) profile
    url = body["avatar_url"]
    assert url != f"/avatars/default/{user.number}.svg"
    assert url.startswith(f"{django_settings.MEDIA_URL}avatars/")
    assert url.endswith(f".{extension}")
    user.refresh_from_db()
    assert user.avatar.url == url
    with default_storage.open(user.avatar.name) as stored, Image.open(stored) as image:
        assert image.format == image_format
    # and others see the new avatar too
    assert api.get(f"{USERS}/{user.number}").json()["avatar_url"] == url


def test_avatar_format_is_read_from_the_content_not_the_name(api):
    r = upload(api, image_bytes("PNG"), name="photo.jpg", content_type="image/jpeg")
    assert r.status_code == 200
    assert r.json()["avatar_url"].endswith(".png")


def test_new_avatar_replaces_the_old_file(api, user):
    first = upload(api, image_bytes("PNG")).json()["avatar_url"]
    user.refresh_from_db()
    old_name = user.avatar.name
    second = upload(api, image_bytes("JPEG"), name="b.jpg", content_type="image/jpeg").json()["avatar_url"]
    assert second != first
    assert not default_storage.exists(old_name)


def test_gif_avatar_is_400(api, user):
    body = assert_error(
        upload(api, image_bytes("GIF"), name="a.gif", content_type="image/gif"), 400, "invalid"
    )
    assert body["fields"]["avatar"]
    user.refresh_from_db()
    assert not user.avatar


@pytest.mark.parametrize(
    "data",
    [
        b"this is not an image at all",
        b'<svg xmlns="http://www.w3.org/2000/svg"></svg>',
        b"",
    ],
)
def test_non_image_avatar_is_400(api, user, data):
    body = assert_error(upload(api, data), 400, "invalid")
    assert body["fields"]["avatar"]
    user.refresh_from_db()
    assert not user.avatar


def test_truncated_png_is_400(api, user):
    data = image_bytes("PNG", size=(64, 64), noise=True)
    body = assert_error(upload(api, data[: len(data) // 2]), 400, "invalid")
    assert body["fields"]["avatar"]
    user.refresh_from_db()
    assert not user.avatar


def test_avatar_over_one_mib_is_400(api, user):
    # given: a real PNG just over 1 MiB (random pixels do not compress)
    data = image_bytes("PNG", size=(620, 620), noise=True)
    assert len(data) > MIB
    # when
    r = upload(api, data)
    # then
    body = assert_error(r, 400, "invalid")
    assert body["fields"]["avatar"]
    user.refresh_from_db()
    assert not user.avatar


def test_avatar_just_under_one_mib_is_accepted(api):
    data = image_bytes("PNG", size=(580, 580), noise=True)
    assert 0.9 * MIB < len(data) <= MIB
    assert upload(api, data).status_code == 200


def test_avatar_without_a_file_is_400(api):
    body = assert_error(api.put(AVATAR, {}, format="multipart"), 400, "invalid")
    assert body["fields"]["avatar"]


def test_avatar_as_json_is_415(api):
    assert_error(api.put(AVATAR, {"avatar": "x"}, format="json"), 415, "unsupported_media_type")


def test_default_avatar_url_answers_an_svg(anon, user):
    r = anon.get(f"/avatars/default/{user.number}.svg")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in r.content


# --- GET users/<number> -------------------------------------------------------------------------------


def test_public_profile_has_exactly_the_public_fields(api, make_user):
    other = make_user(email="secret@example.com", signature="hi all")
    r = api.get(f"{USERS}/{other.number}")
    assert r.status_code == 200
    assert r.json() == public(other)
    assert "secret@example.com" not in r.content.decode()


def test_public_profile_of_self_shows_own_presence_but_no_email(api, user):
    user.email = "secret@example.com"
    user.presence = "busy"
    user.save(update_fields=["email", "presence"])
    r = api.get(f"{USERS}/{user.number}")
    assert r.json() == public(user, presence="busy")


@pytest.mark.parametrize("number", [1, 9999, 99999999])
def test_unknown_number_is_404(api, number):
    assert_error(api.get(f"{USERS}/{number}"), 404, "not_found")


def test_deactivated_user_is_404(api, make_user):
    other = make_user(is_active=False)
    assert_error(api.get(f"{USERS}/{other.number}"), 404, "not_found")


def test_users_are_not_addressed_by_internal_id(api, make_user):
    other = make_user()
    assert other.pk != other.number
    assert_error(api.get(f"{USERS}/{other.pk}"), 404, "not_found")


def test_non_friend_sees_offline_even_when_online(api, make_user):
    stranger = make_user(presence="busy")
    socket_opened(stranger.pk)
    assert api.get(f"{USERS}/{stranger.number}").json()["presence"] == "offline"


def test_friend_sees_chosen_presence_when_online(api, user, make_user, friends):
    # given: a friend set to away
    friend = make_user(presence="away")
    friends(user, friend)
    # while not online they look offline
    assert api.get(f"{USERS}/{friend.number}").json()["presence"] == "offline"
    # when they come online
    socket_opened(friend.pk)
    # then
    assert api.get(f"{USERS}/{friend.number}").json() == public(friend, presence="away")


def test_friend_sees_online_and_busy(api, user, make_user, friends):
    online, busy = make_user(), make_user(presence="busy")
    for person in (online, busy):
        friends(user, person)
        socket_opened(person.pk)
    assert api.get(f"{USERS}/{online.number}").json()["presence"] == "online"
    assert api.get(f"{USERS}/{busy.number}").json()["presence"] == "busy"


def test_email_never_appears_in_public_places(api, user, make_user, friends, client_for):
    # given: someone with an email who is the caller's friend, asked a third person to be friends
    # and is blocked by a fourth
    person = make_user(email="person-secret@example.com", username="findme")
    friends(user, person)
    asked, blocker = make_user(), make_user()
    assert (
        client_for(person).post("/api/v1/friends/requests", {"to": asked.number}, format="json").status_code
        == 201
    )
    assert (
        client_for(blocker).post("/api/v1/blocks", {"user": person.number}, format="json").status_code == 201
    )
    # then: only their own `me` shows the email
    assert client_for(person).get(ME).json()["email"] == "person-secret@example.com"
    views = [
        (api, f"{USERS}/{person.number}"),
        (api, f"{USERS}?q=findme"),
        (api, "/api/v1/friends"),
        (client_for(asked), "/api/v1/friends/requests"),
        (client_for(blocker), "/api/v1/blocks"),
    ]
    for client, path in views:
        r = client.get(path)
        assert r.status_code == 200, path
        text = r.content.decode()
        assert person.username in text, path
        assert "person-secret" not in text, path
        assert '"email"' not in text, path


# --- GET users?q= ---------------------------------------------------------------------------------------


def search(client: APIClient, query: str | None = None, **params):
    if query is not None:
        params["q"] = query
    return client.get(USERS, params)


def found_numbers(response) -> list[int]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"results", "has_more"}
    return [u["number"] for u in body["results"]]


def test_search_by_username_ignoring_case(api, make_user):
    target = make_user(username="MarcoPolo", display_name="Traveller")
    make_user(username="someone", display_name="Else")
    assert found_numbers(search(api, "marcopolo")) == [target.number]
    assert found_numbers(search(api, "COPOL")) == [target.number]


def test_search_by_display_name_ignoring_case(api, make_user):
    target = make_user(username="zq1", display_name="Grace Hopper")
    assert found_numbers(search(api, "grace hop")) == [target.number]
    assert found_numbers(search(api, "HOPPER")) == [target.number]


def test_search_by_chinese_display_name(api, make_user):
    target = make_user(username="zq2", display_name="张小龙")
    assert found_numbers(search(api, "小龙")) == [target.number]


def test_search_by_number(api, make_user):
    target = make_user(username="numbered", display_name="Numbered")
    make_user(username="another", display_name="Another")
    assert target.number in found_numbers(search(api, str(target.number)))
    assert found_numbers(search(api, str(target.number))) == [target.number]


def test_search_results_are_public_user_objects(api, user, make_user, friends):
    stranger = make_user(username="pubstranger", email="x@example.com")
    friend = make_user(username="pubfriend", presence="busy")
    friends(user, friend)
    socket_opened(stranger.pk)
    socket_opened(friend.pk)
    results = search(api, "pub").json()["results"]
    by_number = {u["number"]: u for u in results}
    assert by_number == {
        stranger.number: public(stranger, presence="offline"),
        friend.number: public(friend, presence="busy"),
    }


def test_search_leaves_out_deactivated_users(api, make_user):
    make_user(username="ghostly", is_active=False)
    assert found_numbers(search(api, "ghostly")) == []


def test_search_with_no_match_is_an_empty_page(api):
    assert search(api, "no-such-person").json() == {"results": [], "has_more": False}


def test_search_pages_with_limit_before_and_after(api, make_user):
    # given: five people named alike (numbers increase with creation)
    people = [make_user(username=f"pager{i}", display_name=f"Pager {i}") for i in range(5)]
    numbers = sorted(p.number for p in people)
    # when: the first page of two
    first = search(api, "pager", limit=2).json()
    # then: a page of two, more to come
    assert first["has_more"] is True
    page1 = [u["number"] for u in first["results"]]
    assert len(page1) == 2
    # and walking on with `before` from the last item visits everyone once
    seen = list(page1)
    cursor = page1[-1]
    while True:
        page = search(api, "pager", limit=2, before=cursor).json()
        numbers_here = [u["number"] for u in page["results"]]
        assert numbers_here, "an empty page must not say has_more"
        assert all(n < cursor for n in numbers_here)
        seen += numbers_here
        if not page["has_more"]:
            break
        cursor = numbers_here[-1]
    assert sorted(seen) == numbers
    assert len(seen) == len(set(seen))
    # and `after` gives the ones above the cursor
    after = search(api, "pager", limit=2, after=numbers[0]).json()
    assert sorted(u["number"] for u in after["results"]) == numbers[1:3]
    assert after["has_more"] is True
    last = search(api, "pager", limit=10, after=numbers[2]).json()
    assert sorted(u["number"] for u in last["results"]) == numbers[3:]
    assert last["has_more"] is False


def test_search_default_limit_is_fifty(api, make_user):
    for i in range(51):
        make_user(username=f"many{i}", display_name=f"Many {i}")
    page = search(api, "many").json()
    assert len(page["results"]) == 50
    assert page["has_more"] is True


def test_search_without_q_is_400(api):
    body = assert_error(search(api), 400, "invalid")
    assert body["fields"]["q"]


def test_search_with_blank_q_is_400(api):
    body = assert_error(search(api, ""), 400, "invalid")
    assert body["fields"]["q"]


@pytest.mark.parametrize("limit", [0, 101, -1, "ten"])
def test_search_bad_limit_is_400(api, limit):
    body = assert_error(search(api, "a", limit=limit), 400, "invalid")
    assert body["fields"]["limit"]


def test_search_limit_100_is_fine(api):
    assert search(api, "a", limit=100).status_code == 200


@pytest.mark.parametrize("params", [{"before": "x"}, {"after": "-5"}, {"before": 10001, "after": 10000}])
def test_search_bad_cursor_is_400(api, params):
    body = assert_error(search(api, "a", **params), 400, "invalid")
    assert body["fields"]
