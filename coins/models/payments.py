"""Top-ups: packages people can buy, their orders with a payment provider, the provider's events
(each applied once), and receipts."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from coins.models.ledger import Transaction


class TopupPackage(models.Model):
    """A coin package on sale, e.g. 60 coins for 6.00 CNY. Managed in the admin."""

    coins = models.PositiveIntegerField()
    price_minor = models.PositiveIntegerField(help_text="Price in the currency's minor unit (cents, fen).")
    currency = models.CharField(max_length=3, default="CNY")
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the list (smallest first).")

    class Meta:
        ordering = ["position", "coins"]
        constraints = [
            models.CheckConstraint(condition=Q(coins__gt=0), name="topup_package_coins_positive"),
            models.CheckConstraint(condition=Q(price_minor__gt=0), name="topup_package_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.coins} coins for {self.price_minor / 100:.2f} {self.currency}"


class Topup(models.Model):
    """One order of coins through a payment provider.

    Transitions: pending -> paid | failed; paid -> refunded. The coins and the price are copied from
    the package when ordered, so later package edits do not change an order.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"

    class RefundStatus(models.TextChoices):
        NONE = "", "None"
        REFUNDED = "refunded", "Refunded"
        FAILED = "failed", "Failed: coins already spent (for an operator)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="topups")
    package = models.ForeignKey(TopupPackage, on_delete=models.PROTECT, related_name="topups")
    coins = models.PositiveIntegerField()
    price_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    provider = models.CharField(max_length=32, default="sandbox")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    payment_id = models.CharField(max_length=128, blank=True, db_index=True)
    credit_transaction = models.OneToOneField(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="topup_credited"
    )
    refund_status = models.CharField(max_length=10, choices=RefundStatus.choices, blank=True, default="")
    refund_transaction = models.OneToOneField(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="topup_refunded"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-id"]), models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status__in=["paid", "refunded"]) | Q(credit_transaction__isnull=False),
                name="topup_paid_has_credit",
            ),
        ]

    def __str__(self) -> str:
        return f"top-up #{self.pk} ({self.coins} coins, {self.status})"


class PaymentEvent(models.Model):
    """A provider's webhook event, stored once: (provider, payment_id, event) is unique, so a
    replayed or concurrent delivery finds it and changes nothing."""

    provider = models.CharField(max_length=32)
    payment_id = models.CharField(max_length=128)
    event = models.CharField(max_length=64)
    topup = models.ForeignKey(Topup, on_delete=models.PROTECT, related_name="events")
    payload = models.JSONField()
    outcome = models.CharField(max_length=64, help_text="What applying it did, e.g. credited, ignored.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "payment_id", "event"], name="payment_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event} {self.payment_id}"


class Receipt(models.Model):
    """A receipt for a top-up or a purchase: one per ledger transaction, mailed at most once."""

    number = models.CharField(max_length=32, unique=True, help_text="Receipt number shown to the customer.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="receipts")
    transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, related_name="receipt")
    description = models.CharField(max_length=200)
    coins = models.BigIntegerField()
    amount_minor = models.PositiveIntegerField(null=True, blank=True, help_text="Money paid, for top-ups.")
    currency = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    emailed_to = models.EmailField(blank=True)

    def __str__(self) -> str:
        return self.number
