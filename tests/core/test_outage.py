"""Redis down under the HTTP API (degraded mode, CONTRACT section 1): what needs only the database
answers as usual, rate and login limits count in the process; a Redis error nobody expected is
still 503 `service_unavailable` with Retry-After. (With real processes: tests/reliability.)"""

from collections.abc import Iterator

import pytest
from django.test import override_settings

from messaging.conversations import conversation_direct_open
from messaging.models import Message
from tests.api_helpers import assert_error
from tests.messaging.conftest import befriend
from tests.messaging.processes import free_port

pytestmark = pytest.mark.urls("tests.core.urls")


@pytest.fixture
def redis_down() -> Iterator[None]:
    """The cache (rate limits, login limits, presence) on a Redis port where nothing listens, as
    configured with REDIS_URL; restored before the suite's own cache cleanup runs."""
    dead = {
        "default": {
            "BACKEND": "core.degraded.FailoverRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    with override_settings(CACHES=dead):
        yield


def test_a_send_while_redis_is_down_is_stored(alice, bob, client_for, redis_down):
    befriend(alice, bob)
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    response = client_for(alice).post(
        f"/api/v1/conversations/{direct.pk}/messages", {"body": "hi"}, format="json"
    )
    assert response.status_code == 201
    assert Message.objects.get().pk == response.json()["id"]


def test_the_message_limit_still_bites_while_redis_is_down(alice, bob, client_for, redis_down, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "messages": "2/minute"}
    befriend(alice, bob)
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    client = client_for(alice)
    url = f"/api/v1/conversations/{direct.pk}/messages"
    statuses = [client.post(url, {"body": f"m{n}"}, format="json").status_code for n in range(3)]
    assert statuses == [201, 201, 429]
    assert Message.objects.count() == 2


def test_a_login_while_redis_is_down_is_answered_and_counted(anon, user, redis_down, settings):
    # wrong passwords are refused as usual, and the per-account lockout still comes (in this process)
    answers = [
        anon.post("/api/v1/auth/token", {"username": user.username, "password": "x"}, format="json")
        for _ in range(6)
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 400, 429]
    assert_error(answers[0], 400, "invalid_credentials")


def test_redis_down_in_a_plain_view_under_the_api_is_503(client, db):
    client.raise_request_exception = False
    response = client.get("/api/v1/test/plain-redis-down")
    assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"
