"""Read-only reports for operators: an account's statement, the trial balance, and the daily
figures of the operators' dashboard (coins in circulation, issued and spent per day).

A statement needs no running sum: every entry carries its account's balance after it. The trial
balance groups system accounts by purpose (their shards summed) and all user wallets into one line;
in a whole ledger the total debits equal the total credits, and each line's balance is its credits
minus its debits in the account's natural direction.
"""

from dataclasses import dataclass, field
from datetime import UTC, date

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from coins.models import Account, Entry, Side, Transaction

WALLETS = "user wallets"


def account_statement(account: Account) -> QuerySet[Entry]:
    """The account's entries, oldest first, with their transactions."""
    return account.entries.select_related("transaction").order_by("sequence")


@dataclass
class TrialBalanceLine:
    purpose: str
    normal_side: str
    accounts: int = 0
    debits: int = 0
    credits: int = 0
    balance: int = 0

    @property
    def balance_from_entries(self) -> int:
        net = self.credits - self.debits
        return net if self.normal_side == Side.CREDIT else -net

    @property
    def consistent(self) -> bool:
        return self.balance == self.balance_from_entries


@dataclass
class TrialBalance:
    lines: list[TrialBalanceLine] = field(default_factory=list)

    @property
    def debits(self) -> int:
        return sum(line.debits for line in self.lines)

    @property
    def credits(self) -> int:
        return sum(line.credits for line in self.lines)

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits and all(line.consistent for line in self.lines)


def trial_balance() -> TrialBalance:
    """Debits, credits and cached balance per purpose (wallets together), from a few aggregates."""
    sums = {"debits": Sum("amount", filter=Q(side=Side.DEBIT), default=0)}
    sums["credits"] = Sum("amount", filter=Q(side=Side.CREDIT), default=0)
    lines: dict[str, TrialBalanceLine] = {}

    wallet_line = TrialBalanceLine(WALLETS, Side.CREDIT)
    wallets = Account.objects.filter(kind=Account.Kind.WALLET).aggregate(
        n=Count("pk"), balance=Sum("balance", default=0)
    )
    wallet_line.accounts, wallet_line.balance = wallets["n"], wallets["balance"]
    moved = Entry.objects.filter(account__kind=Account.Kind.WALLET).aggregate(**sums)
    wallet_line.debits, wallet_line.credits = moved["debits"], moved["credits"]

    system = Account.objects.filter(kind=Account.Kind.SYSTEM)
    for account in system.only("pk", "code", "normal_side", "balance"):
        line = lines.setdefault(account.purpose, TrialBalanceLine(account.purpose, account.normal_side))
        line.accounts += 1
        line.balance += account.balance
    by_code = (
        Entry.objects.filter(account__kind=Account.Kind.SYSTEM)
        .values("account__code")
        .annotate(**sums)
        .order_by()
    )
    for row in by_code:
        line = lines[row["account__code"].split("#", 1)[0]]
        line.debits += row["debits"]
        line.credits += row["credits"]
    return TrialBalance(lines=[wallet_line, *(lines[p] for p in sorted(lines))])


@dataclass(frozen=True)
class CoinsDay:
    day: date
    issued: int  # coins that entered wallets from outside: top-ups and promotional grants
    spent: int  # coins wallets paid to the store


def coins_in_circulation() -> int:
    """What users' wallets hold."""
    return Account.objects.filter(kind=Account.Kind.WALLET).aggregate(total=Sum("balance"))["total"] or 0


def coins_per_day(*, since: date) -> list[CoinsDay]:
    """Coins issued and spent per UTC day from `since` (days without any are left out)."""
    wallet_entries = Entry.objects.filter(
        account__kind=Account.Kind.WALLET,
        transaction__created_at__date__gte=since,
    )
    issued = (
        wallet_entries.filter(
            side=Side.CREDIT,
            transaction__kind__in=[Transaction.Kind.TOPUP, Transaction.Kind.PROMOTION],
        )
        .annotate(day=TruncDate("transaction__created_at", tzinfo=UTC))
        .values("day")
        .annotate(total=Sum("amount"))
    )
    spent = (
        wallet_entries.filter(side=Side.DEBIT, transaction__kind=Transaction.Kind.PURCHASE)
        .annotate(day=TruncDate("transaction__created_at", tzinfo=UTC))
        .values("day")
        .annotate(total=Sum("amount"))
    )
    days: dict[date, list[int]] = {}
    for row in issued:
        days.setdefault(row["day"], [0, 0])[0] = row["total"]
    for row in spent:
        days.setdefault(row["day"], [0, 0])[1] = row["total"]
    return [CoinsDay(day, i, s) for day, (i, s) in sorted(days.items())]
