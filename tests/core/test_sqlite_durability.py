"""Durability of an acknowledged write: once a commit returns (a webhook answered 200, a transfer
answered 201) it survives a power loss. SQLite in WAL mode needs `synchronous=FULL` for that
(NORMAL may lose the last commits); PostgreSQL needs `synchronous_commit` left on."""

import pytest
from django.conf import settings
from django.db import connection, connections

pytestmark = pytest.mark.django_db

ENGINE = settings.DATABASES["default"]["ENGINE"]
FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


@pytest.mark.skipif(
    ENGINE != "django.db.backends.sqlite3", reason="SQLite's PRAGMA synchronous: not on SQLite"
)
def test_sqlite_syncs_every_commit_to_disk():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == FULL


@pytest.mark.skipif(
    ENGINE != "django.db.backends.sqlite3", reason="SQLite's PRAGMA synchronous: not on SQLite"
)
def test_a_new_sqlite_connection_syncs_every_commit_too():
    # every thread of daphne and of eager Celery opens its own connection
    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == FULL
    finally:
        fresh.close()


@pytest.mark.skipif(
    ENGINE != "django.db.backends.postgresql", reason="PostgreSQL's synchronous_commit: not on PostgreSQL"
)
def test_postgresql_commits_wait_for_the_disk():
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] in ("on", "remote_write", "remote_apply")
