"""What a client may put in a message (CONTRACT section 4): `data` only where its kind defines it,
bounded so it can always be stored and published (msgpack packs at most 64-bit integers), and
no U+0000 anywhere (PostgreSQL cannot store it). Enforced in the service, which the HTTP API,
the socket and server-side callers all go through; run on both databases."""

import pytest

from core.exceptions import InvalidInput
from messaging import services
from messaging.models import Message
from tests.api_helpers import assert_error

HUGE = 2**64
STICKER = {"sku": "cats", "sticker": 3}


def send(user, conversation, **kwargs):
    return services.message_send(sender=user, conversation_id=conversation.pk, **kwargs)


@pytest.mark.parametrize("data", [None, {}])
def test_text_takes_no_data_or_an_empty_object(alice, group, data):
    message, created = send(alice, group, body="hi", data=data)
    assert created and message.data == {}


@pytest.mark.parametrize(
    "data",
    [
        {"n": HUGE},
        {"nested": [{"n": -HUGE}]},
        {"sku": "cats", "sticker": 3},  # sticker data on a text message
        {"anything": "at all"},
        [],
        "text",
        7,
    ],
)
def test_text_with_data_is_invalid_and_nothing_is_stored(alice, group, data):
    with pytest.raises(InvalidInput) as error:
        send(alice, group, body="hi", data=data)
    assert "data" in error.value.fields
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    "data",
    [
        {"sku": "cats", "sticker": 0},
        {"sku": "cats", "sticker": 2**63 - 1},
        {"sku": "cats", "sticker": "wave"},
        {"sku": "s" * services.STICKER_SKU_MAX_LENGTH, "sticker": "w" * services.STICKER_NAME_MAX_LENGTH},
    ],
)
def test_a_sticker_takes_exactly_its_pack_and_sticker(alice, group, data, sticker_rules_off):
    message, created = send(alice, group, kind="sticker", data=data)
    assert created and message.data == data


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"sku": "cats"},
        {"sticker": 3},
        {"sku": "cats", "sticker": 3, "extra": 1},
        {"sku": "cats", "sticker": HUGE},
        {"sku": "cats", "sticker": 2**63},
        {"sku": "cats", "sticker": -1},
        {"sku": "cats", "sticker": True},
        {"sku": "cats", "sticker": 1.5},
        {"sku": "cats", "sticker": ""},
        {"sku": "cats", "sticker": "w" * (services.STICKER_NAME_MAX_LENGTH + 1)},
        {"sku": "cats", "sticker": [1]},
        {"sku": "", "sticker": 3},
        {"sku": "s" * (services.STICKER_SKU_MAX_LENGTH + 1), "sticker": 3},
        {"sku": 5, "sticker": 3},
        {"sku": {"n": HUGE}, "sticker": 3},
    ],
)
def test_any_other_sticker_data_is_invalid(alice, group, data):
    with pytest.raises(InvalidInput) as error:
        send(alice, group, kind="sticker", data=data)
    assert "data" in error.value.fields
    assert Message.objects.count() == 0


def test_server_side_callers_keep_free_form_data(alice, group):
    data = {"red_packet": 7, "greeting": "恭喜发财", "nested": {"list": [1, 2]}}
    message, _ = send(alice, group, kind="red_packet", data=data, trusted=True)
    assert Message.objects.get(pk=message.pk).data == data


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"body": "hi\x00there"}, "body"),
        ({"body": "hi", "client_id": "c\x00"}, "client_id"),
        ({"kind": "sticker", "data": {"sku": "ca\x00ts", "sticker": 3}}, "data.sku"),
        ({"kind": "sticker", "data": {"sku": "cats", "sticker": "\x00"}}, "data.sticker"),
    ],
)
def test_nul_is_refused_in_a_send(alice, group, kwargs, field):
    with pytest.raises(InvalidInput) as error:
        send(alice, group, **kwargs)
    assert field in error.value.fields
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    "data", [{"note": "a\x00b"}, {"a\x00": 1}, {"list": ["ok", "\x00"]}], ids=["value", "key", "list"]
)
def test_nul_is_refused_in_trusted_data_too(alice, group, data):
    with pytest.raises(InvalidInput):
        send(alice, group, kind="system", body="x", data=data, trusted=True)
    assert Message.objects.count() == 0


def test_nul_is_refused_in_an_edit(alice, group):
    message, _ = send(alice, group, body="typo")
    with pytest.raises(InvalidInput) as error:
        services.message_edit(user=alice, message_id=message.pk, body="fix\x00ed")
    assert "body" in error.value.fields
    assert Message.objects.get(pk=message.pk).body == "typo"


# --- Over HTTP: 400, never 500 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"body": "hi", "data": {"n": HUGE}},
        {"body": "hi", "data": {"x": 1}},
        {"kind": "sticker", "data": {"sku": "cats", "sticker": HUGE}},
        {"kind": "sticker", "data": {"sku": "cats", "sticker": 3, "n": HUGE}},
    ],
)
def test_bad_data_over_http_is_400_with_fields_data(alice, direct, client_for, payload):
    response = client_for(alice).post(f"/api/v1/conversations/{direct.pk}/messages", payload, format="json")
    assert_error(response, 400, "invalid")
    # `data` or the place inside it (an integer past 64 bits is named where it is: core.input_rules)
    assert [name for name in response.json()["fields"] if name.split(".")[0] == "data"]
    assert Message.objects.count() == 0


def test_a_sticker_over_http(alice, direct, client_for, sticker_rules_off):
    response = client_for(alice).post(
        f"/api/v1/conversations/{direct.pk}/messages", {"kind": "sticker", "data": STICKER}, format="json"
    )
    assert response.status_code == 201 and response.json()["data"] == STICKER


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/conversations/{huge}",
        "/api/v1/conversations/{huge}/messages",
        "/api/v1/conversations/{huge}/read",
        "/api/v1/conversations/{huge}/members",
        "/api/v1/messages/{huge}",
    ],
)
@pytest.mark.parametrize("huge", [2**63, 2**64, 10**30])
def test_ids_past_64_bits_are_404(alice, client_for, path, huge):
    api = client_for(alice)
    target = path.format(huge=huge)
    for response in (
        api.get(target),
        api.post(target, {"body": "x", "up_to": 1, "members": [1]}, format="json"),
        api.patch(target, {"body": "x"}, format="json"),
        api.delete(target),
    ):
        assert_error(response, 404, "not_found")


def test_the_largest_64_bit_id_is_an_ordinary_404(alice, client_for):
    largest = 2**63 - 1
    api = client_for(alice)
    assert_error(api.get(f"/api/v1/conversations/{largest}/messages"), 404, "not_found")
    assert_error(api.patch(f"/api/v1/messages/{largest}", {"body": "x"}, format="json"), 404, "not_found")
