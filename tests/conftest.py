"""Shared fixtures. Tests run against whatever DATABASE_URL / REDIS_URL point at (PostgreSQL and
Redis in CI); tests that need a real server are marked and skipped, with the reason printed,
on the embedded default. With HUDDLE_REQUIRE_SERVICES=1 (CI) a missing server fails the run."""

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from accounts.authentication import new_token_key, token_digest
from accounts.models import DeviceToken, User
from config.celery import app as celery_app
from messaging import realtime
from tests.factories import UserFactory, make_friends

REQUIRE_SERVICES = os.environ.get("HUDDLE_REQUIRE_SERVICES") == "1"


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def _on_redis() -> bool:
    return bool(settings.REDIS_URL)


def pytest_sessionstart(session: pytest.Session) -> None:
    if REQUIRE_SERVICES and not (_on_postgres() and _on_redis()):
        raise pytest.UsageError(
            "HUDDLE_REQUIRE_SERVICES=1 but DATABASE_URL/REDIS_URL do not point at PostgreSQL/Redis"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://...")
    for item in items:
        if "postgres" in item.keywords and not _on_postgres():
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not _on_redis():
            item.add_marker(skip_redis)


@pytest.fixture(scope="session", autouse=True)
def _close_database_pool(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Socket and thread tests return connections to psycopg's pool, which keeps them open: close
    the pool before pytest-django drops the test database (PITFALLS: a pool keeps connections)."""
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql" and hasattr(connection, "close_pool"):
            connection.close_pool()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit and presence counters must not leak between tests. Only this run's keys go:
    django-redis's delete_pattern is limited to our key prefix (never FLUSHDB a shared Redis)."""
    _clear_cache()
    yield
    _clear_cache()


def _clear_cache() -> None:
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def celery_eager(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tasks run in-process even when REDIS_URL points `.delay()` at a real broker, so no test
    leaves messages on a queue; tests marked `real_celery_worker` talk to a worker they start."""
    if request.node.get_closest_marker("real_celery_worker"):
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # The default PBKDF2 costs ~0.3 s per password; what is tested here is not its strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(db: None) -> User:
    return UserFactory()


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    return UserFactory


@pytest.fixture
def alice(make_user: Callable[..., User]) -> User:
    return make_user(username="alice", display_name="Alice")


@pytest.fixture
def bob(make_user: Callable[..., User]) -> User:
    return make_user(username="bob", display_name="Bob")


@pytest.fixture
def carol(make_user: Callable[..., User]) -> User:
    return make_user(username="carol", display_name="Carol")


def token_for(user: User) -> str:
    key = new_token_key()
    DeviceToken.objects.create(user=user, digest=token_digest(key))
    return key


@pytest.fixture
def anon(db: None) -> APIClient:
    return APIClient()


@pytest.fixture
def client_for(db: None) -> Callable[[User], APIClient]:
    """An API client authenticated as `user` by a device token."""

    def make(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return client

    return make


@pytest.fixture
def api(user: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(user)


@pytest.fixture
def friends() -> Callable[[User, User], None]:
    return make_friends


@pytest.fixture
def captured_events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[int], dict]]:
    """Socket events as (user_ids, event), captured where messaging.realtime sends them (after
    commit: use django_capture_on_commit_callbacks or a transactional test)."""
    sent: list[tuple[list[int], dict]] = []
    monkeypatch.setattr(realtime, "send_event_now", lambda ids, event: sent.append((sorted(set(ids)), event)))
    monkeypatch.setattr(
        realtime,
        "send_events_now",
        lambda events: sent.extend((sorted(set(ids)), event) for ids, event in events),
    )
    return sent


def db_vendor() -> str:
    return connection.vendor


@pytest.fixture
def sticker_rules_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests of a sticker message's shape, not of who owns the pack: the store's ownership
    rule (messaging.content_rules, tested in tests/store) is left out."""
    from messaging import content_rules

    monkeypatch.setattr(content_rules, "_CHECKS", {})
