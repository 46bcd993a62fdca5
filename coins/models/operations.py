"""The operators' side of the ledger: reconciliation runs with their findings, and the audit log
of what operators did (reversals, promotional grants), each with a written reason."""

from django.conf import settings
from django.db import models

from coins.models.ledger import Transaction


class ReconciliationRun(models.Model):
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True, help_text="Empty while running.")
    summary = models.JSONField(default=dict, blank=True)
    triggered_by = models.CharField(max_length=64, default="schedule")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        state = "running" if self.ok is None else ("ok" if self.ok else "FINDINGS")
        return f"reconciliation #{self.pk} at {self.started_at:%Y-%m-%d %H:%M} ({state})"


class ReconciliationFinding(models.Model):
    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=40)
    detail = models.TextField()
    account_id_ref = models.BigIntegerField(null=True, blank=True, help_text="Account concerned, if any.")
    transaction_id_ref = models.BigIntegerField(
        null=True, blank=True, help_text="Transaction concerned, if any."
    )

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail[:80]}"


class OperatorAction(models.Model):
    """An audit-log line: which operator did what to the ledger, and why."""

    class Action(models.TextChoices):
        REVERSE = "reverse", "Reversed a transaction"
        GRANT = "grant", "Granted promotional coins"

    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    reason = models.TextField()
    target_transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    result_transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.operator} {self.action} at {self.created_at:%Y-%m-%d %H:%M}"
