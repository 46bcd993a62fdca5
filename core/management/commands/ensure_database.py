"""`manage.py ensure_database`: create the PostgreSQL database DATABASE_URL names if it does not exist.

For scripts that start Huddle on a fresh machine (bin/prod-local, the benchmarks). On SQLite it does
nothing: the file is created on first use.
"""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection


class Command(BaseCommand):
    help = "Create the PostgreSQL database named by DATABASE_URL if it is missing (no-op on SQLite)."

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            return
        import psycopg
        from psycopg import sql

        params = connection.get_connection_params()
        name = connection.settings_dict["NAME"]
        params = {k: v for k, v in params.items() if k in {"host", "port", "user", "password"}}
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists:
                return
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.stdout.write(f"created database {name}")
