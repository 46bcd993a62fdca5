"""The coins ledger: accounts, transactions and their entries (double entry), top-ups, receipts,
reconciliation runs and the operators' audit log.

Invariants, each kept by the database itself on PostgreSQL (migration 0002) and by
coins.services everywhere:
- every transaction has two or more entries whose debits equal its credits (a deferred
  constraint trigger refuses the commit otherwise, and a transaction without entries);
- entries and transactions are never updated or deleted (a trigger refuses it); mistakes are
  corrected by a reversing transaction, at most one per transaction;
- a user wallet never goes below zero (check constraint);
- each entry records its account's balance after it and the account's entry sequence number
  (1, 2, 3, ... without gaps), and a SHA-256 chained to the previous entry of that account, so
  a statement needs no running sum and any later tampering with history is detectable.

Balances are kept in the account's natural direction: a credit-normal account (user wallets,
revenue, escrow) grows with credits, a debit-normal one (money held at payment providers,
promotions spent) with debits. Amounts are whole coins, always positive; the side says which way.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Side(models.TextChoices):
    DEBIT = "debit", "Debit"
    CREDIT = "credit", "Credit"


class Account(models.Model):
    class Kind(models.TextChoices):
        WALLET = "wallet", "User wallet"
        SYSTEM = "system", "System account"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="wallet"
    )
    # System accounts: a code such as "provider:sandbox#3" (purpose, then shard; see services).
    code = models.CharField(max_length=64, unique=True, null=True, blank=True)
    normal_side = models.CharField(max_length=6, choices=Side.choices)
    balance = models.BigIntegerField(default=0)
    entry_count = models.BigIntegerField(default=0, help_text="Sequence number of the last entry.")
    last_hash = models.CharField(max_length=64, default="0" * 64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="wallet") | Q(balance__gte=0), name="wallet_not_negative"
            ),
            models.CheckConstraint(
                condition=(Q(kind="wallet", user__isnull=False, code__isnull=True))
                | (Q(kind="system", user__isnull=True, code__isnull=False)),
                name="account_owner_matches_kind",
            ),
            models.CheckConstraint(condition=Q(entry_count__gte=0), name="account_entry_count_not_negative"),
        ]
        permissions = [
            ("view_statement", "Can view account statements and the trial balance"),
        ]

    def __str__(self) -> str:
        return f"wallet of {self.user}" if self.kind == self.Kind.WALLET else str(self.code)

    @property
    def purpose(self) -> str:
        """A system account's purpose without its shard ("provider:sandbox#3" -> "provider:sandbox")."""
        return (self.code or "").split("#", 1)[0]


class Transaction(models.Model):
    class Kind(models.TextChoices):
        TOPUP = "topup", "Top-up"
        TOPUP_REFUND = "topup_refund", "Top-up refund"
        TRANSFER = "transfer", "Transfer"
        PROMOTION = "promotion", "Promotional grant"
        PURCHASE = "purchase", "Purchase"
        RED_PACKET = "red_packet", "Red packet sent"
        RED_PACKET_CLAIM = "red_packet_claim", "Red packet claimed"
        RED_PACKET_RETURN = "red_packet_return", "Red packet returned"
        REVERSAL = "reversal", "Reversal"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    memo = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Unique through the constraint below, not `unique=True`: that also built a varchar_pattern_ops
    # copy of the index for LIKE queries, which nothing runs and every posting paid to update.
    idempotency_key = models.CharField(max_length=300, null=True, blank=True)  # noqa: DJ001 - NULL: no key (many)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The person who caused it (the sender, the operator); empty for the system.",
    )
    cause = models.CharField(
        max_length=64, blank=True, help_text="What caused it, e.g. webhook:sandbox, admin."
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "created_at"])]
        constraints = [
            # The name PostgreSQL gave the column's former UNIQUE: migration 0006 kept that index.
            models.UniqueConstraint(fields=["idempotency_key"], name="coins_transaction_idempotency_key_key"),
        ]
        permissions = [
            ("reverse_transaction", "Can reverse ledger transactions"),
            ("grant_promotion", "Can grant promotional coins"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class Entry(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    # No index of its own: (account, -id) and (account, sequence) below both lead with it.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries", db_index=False)
    side = models.CharField(max_length=6, choices=Side.choices)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    sequence = models.BigIntegerField(help_text="The account's entry number: 1, 2, 3, ...")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="entry_amount_positive"),
            models.UniqueConstraint(fields=["account", "sequence"], name="entry_account_sequence_unique"),
        ]
        indexes = [models.Index(fields=["account", "-id"])]

    def __str__(self) -> str:
        return f"{self.side} {self.amount} on {self.account_id} (tx {self.transaction_id})"

    @property
    def signed_amount(self) -> int:
        """+ when the entry grows its account's balance."""
        return self.amount if self.side == self.account.normal_side else -self.amount
