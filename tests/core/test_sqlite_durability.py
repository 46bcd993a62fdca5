"""Durability of an acknowledged write: once a commit returns (a webhook answered 200, a transfer
answered 201) it survives a power loss. SQLite in WAL mode needs `synchronous=FULL` for that
(NORMAL may lose the last commits); PostgreSQL needs `synchronous_commit` left on.

The embedded default's settings are checked on a SQLite file of their own, whatever database the
suite runs on, so this runs (and nothing skips) on PostgreSQL too."""

import pytest
from django.conf import settings
from django.db import connection
from django.db.utils import ConnectionHandler

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def _pragma(cursor, name: str):
    cursor.execute(f"PRAGMA {name}")
    return cursor.fetchone()[0]


def test_the_embedded_default_syncs_every_commit_to_disk(tmp_path, django_db_blocker):
    # every thread of daphne and of eager Celery opens its own connection with these settings
    # a handler of its own: its "default" is a fresh connection to a file in tmp_path
    handler = ConnectionHandler({"default": {**settings.EMBEDDED_DATABASE, "NAME": tmp_path / "x.sqlite3"}})
    embedded = handler["default"]
    with django_db_blocker.unblock():  # not the test database: a file of its own
        try:
            with embedded.cursor() as cursor:
                assert _pragma(cursor, "synchronous") == FULL
                assert _pragma(cursor, "journal_mode") == "wal"
        finally:
            embedded.close()


def test_the_embedded_default_is_the_database_without_a_url():
    if settings.DATABASE_URL:
        assert settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
    else:
        assert settings.DATABASES["default"]["OPTIONS"] == settings.EMBEDDED_DATABASE["OPTIONS"]


@pytest.mark.django_db
@pytest.mark.postgres
def test_postgresql_commits_wait_for_the_disk():
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] in ("on", "remote_write", "remote_apply")
