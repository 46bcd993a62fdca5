"""Whole-ledger checks, shared by `manage.py ledger_check` and the nightly reconciliation.

Each check returns the problems it finds as `Problem`s naming the account or transaction, so an
operator knows where to look. The checks read with plain aggregate queries (one pass each) and
stream entries for the hash chain, so they run on a live ledger without locking it.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Count, F, Q, Sum

from coins.hashing import GENESIS_HASH, entry_hash
from coins.models import Account, Entry, Side, Transaction


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str
    account_id: int | None = None
    transaction_id: int | None = None


@dataclass
class LedgerReport:
    transactions: int = 0
    coins_in_circulation: int = 0
    problems: list[Problem] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict:
        return {
            "transactions": self.transactions,
            "unbalanced_transactions": self.count("unbalanced_transaction"),
            "balance_mismatches": self.count("balance_mismatch"),
            "negative_wallets": self.count("negative_wallet"),
            "coins_in_circulation": self.coins_in_circulation,
            "sequence_gaps": self.count("sequence_gap"),
            "hash_chain_breaks": self.count("hash_chain_break"),
            "ok": self.ok,
            "problems": [p.detail for p in self.problems[:50]],
        }


def unbalanced_transactions() -> Iterator[Problem]:
    rows = Transaction.objects.annotate(
        debits=Sum("entries__amount", filter=Q(entries__side=Side.DEBIT), default=0),
        credits=Sum("entries__amount", filter=Q(entries__side=Side.CREDIT), default=0),
        legs=Count("entries"),
    ).filter(Q(legs__lt=2) | ~Q(debits=F("credits")))
    for txn in rows.values("pk", "debits", "credits", "legs"):
        yield Problem(
            "unbalanced_transaction",
            f"transaction #{txn['pk']}: {txn['legs']} entries, "
            f"debits {txn['debits']} != credits {txn['credits']}",
            transaction_id=txn["pk"],
        )


def balance_mismatches() -> Iterator[Problem]:
    """Cached balance and entry count against the entries themselves."""
    sums = (
        Entry.objects.values("account")
        .annotate(
            debits=Sum("amount", filter=Q(side=Side.DEBIT), default=0),
            credits=Sum("amount", filter=Q(side=Side.CREDIT), default=0),
            n=Count("pk"),
        )
        .order_by()
    )
    by_account = {row["account"]: row for row in sums}
    for account in Account.objects.only("pk", "normal_side", "balance", "entry_count", "code", "user_id"):
        row = by_account.get(account.pk, {"debits": 0, "credits": 0, "n": 0})
        expected = row["credits"] - row["debits"]
        if account.normal_side == Side.DEBIT:
            expected = -expected
        if account.balance != expected or account.entry_count != row["n"]:
            yield Problem(
                "balance_mismatch",
                f"account {account.pk} ({account.code or f'wallet of user {account.user_id}'}): "
                f"cached balance {account.balance}, entries say {expected}; "
                f"entry count {account.entry_count}, entries {row['n']}",
                account_id=account.pk,
            )


def negative_wallets() -> Iterator[Problem]:
    for pk, balance in Account.objects.filter(kind=Account.Kind.WALLET, balance__lt=0).values_list(
        "pk", "balance"
    ):
        yield Problem("negative_wallet", f"wallet {pk} holds {balance}", account_id=pk)


def chain_problems() -> Iterator[Problem]:
    """Per account: sequence numbers 1..n without gaps, each entry's prev_hash the previous entry's
    hash, each hash recomputed from the entry's fields, and the last one cached on the account."""
    last_hash = dict(Account.objects.values_list("pk", "last_hash"))
    account_id, expected_seq, prev = None, 1, GENESIS_HASH
    entries = Entry.objects.order_by("account_id", "sequence").values_list(
        "pk",
        "account_id",
        "sequence",
        "transaction_id",
        "side",
        "amount",
        "balance_after",
        "prev_hash",
        "hash",
        "created_at",
    )

    def closing(account: int | None, prev_hash: str) -> Iterator[Problem]:
        if account is not None and last_hash.get(account) != prev_hash:
            yield Problem(
                "hash_chain_break",
                f"account {account}: cached last hash differs from its last entry's",
                account,
            )

    for pk, acc, seq, txn, side, amount, balance_after, prev_hash, digest, created_at in entries.iterator(
        2000
    ):
        if acc != account_id:
            yield from closing(account_id, prev)
            account_id, expected_seq, prev = acc, 1, GENESIS_HASH
        if seq != expected_seq:
            yield Problem(
                "sequence_gap", f"account {acc}: entry {pk} has sequence {seq}, expected {expected_seq}", acc
            )
        recomputed = entry_hash(
            prev_hash=prev,
            account_id=acc,
            sequence=seq,
            transaction_id=txn,
            side=side,
            amount=amount,
            balance_after=balance_after,
            created_at=created_at,
        )
        if prev_hash != prev or digest != recomputed:
            yield Problem(
                "hash_chain_break",
                f"account {acc}: entry {pk} (sequence {seq}) does not match its hash chain",
                acc,
            )
        expected_seq, prev = seq + 1, digest
    yield from closing(account_id, prev)


def ledger_report() -> LedgerReport:
    report = LedgerReport()
    report.transactions = Transaction.objects.count()
    report.coins_in_circulation = Account.objects.filter(kind=Account.Kind.WALLET).aggregate(
        total=Sum("balance", default=0)
    )["total"]
    for check in (unbalanced_transactions, balance_mismatches, negative_wallets, chain_problems):
        report.problems.extend(check())
    return report
