"""PostgreSQL binds the query parameters itself, unless DATABASE_SERVER_SIDE_BINDING=0."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
READ_OPTION = (
    "import config.settings as s; print(s.DATABASES['default'].get('OPTIONS', {}).get('server_side_binding'))"
)


def option_with(**env: str) -> str:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_"))},
        "DEBUG": "1",
        "DATABASE_URL": "postgres://huddle@127.0.0.1:5432/huddle",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", READ_OPTION],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_postgresql_binds_parameters_server_side_by_default() -> None:
    assert option_with() == "True"


def test_server_side_binding_can_be_switched_off_behind_a_pooler() -> None:
    assert option_with(DATABASE_SERVER_SIDE_BINDING="0") == "None"


@pytest.mark.django_db
@pytest.mark.postgres
def test_the_parameters_travel_apart_from_the_sql() -> None:
    import psycopg

    with connection.cursor() as cursor:
        assert not isinstance(cursor.cursor, psycopg.ClientCursor)
        cursor.execute("SELECT %s::text || %s", ["it's ", "bound"])
        assert cursor.fetchone() == ("it's bound",)
        assert "$1" in cursor.cursor._query.query.decode()  # the text PostgreSQL got: placeholders
