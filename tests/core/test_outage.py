"""Redis down under the HTTP API: 503 `service_unavailable` with Retry-After, nothing written."""

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
    """The cache (rate limits, login limits, presence) on a Redis port where nothing listens;
    restored before the suite's own cache cleanup runs."""
    dead = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    with override_settings(CACHES=dead):
        yield


def test_a_send_while_redis_is_down_is_503_and_stores_nothing(alice, bob, client_for, redis_down):
    befriend(alice, bob)
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    response = client_for(alice).post(
        f"/api/v1/conversations/{direct.pk}/messages", {"body": "hi"}, format="json"
    )
    assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"
    assert not Message.objects.exists()


def test_a_login_while_redis_is_down_is_503(anon, user, redis_down):
    response = anon.post("/api/v1/auth/token", {"username": user.username, "password": "x"}, format="json")
    assert_error(response, 503, "service_unavailable")


def test_redis_down_in_a_plain_view_under_the_api_is_503(client, db):
    client.raise_request_exception = False
    response = client.get("/api/v1/test/plain-redis-down")
    assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"
