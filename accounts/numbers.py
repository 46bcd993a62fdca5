"""Allocation of account numbers: increasing from 10000, never reused, no collisions.

PostgreSQL hands them out from a sequence (created by a migration), which never blocks and never
repeats, even when sign-ups race or roll back (a rolled-back sign-up leaves a gap, as QQ's numbers
have gaps). SQLite has no sequences; there a counter row is bumped inside the sign-up's
transaction, which SQLite's single writer serialises.
"""

from django.db import connections

FIRST_NUMBER = 10000
SEQUENCE = "accounts_user_number_seq"


def allocate_account_number(using: str = "default") -> int:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(%s)", [SEQUENCE])
            return cursor.fetchone()[0]
        # One statement, so atomic even in autocommit; the row is created by migration 0002.
        cursor.execute("UPDATE accounts_accountnumbercounter SET last = last + 1 RETURNING last")
        row = cursor.fetchone()
        if row is None:
            # The row is gone (a test's table flush): start again above every number handed out.
            cursor.execute(
                "INSERT INTO accounts_accountnumbercounter (last) "
                "SELECT COALESCE(MAX(number) + 1, %s) FROM accounts_user RETURNING last",
                [FIRST_NUMBER],
            )
            row = cursor.fetchone()
        return row[0]


def create_number_source(connection) -> None:
    """Create the sequence or the counter row (called from a migration)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE} START WITH {FIRST_NUMBER} MINVALUE {FIRST_NUMBER}"
            )
        else:
            cursor.execute("INSERT INTO accounts_accountnumbercounter (last) VALUES (%s)", [FIRST_NUMBER - 1])
