"""The per-account hash chain of entries.

Each entry's hash covers its canonical fields and the previous entry's hash on the same account,
so changing, removing or inserting any past entry breaks every later hash of that account. The
chain is per account (the account row is locked while posting anyway), so it adds no global
serialization point.
"""

import hashlib
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64


def entry_hash(
    *,
    prev_hash: str,
    account_id: int,
    sequence: int,
    transaction_id: int,
    side: str,
    amount: int,
    balance_after: int,
    created_at: datetime,
) -> str:
    canonical = "|".join(
        [
            prev_hash,
            str(account_id),
            str(sequence),
            str(transaction_id),
            side,
            str(amount),
            str(balance_after),
            created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        ]
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
