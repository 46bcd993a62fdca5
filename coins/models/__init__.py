"""The coins app's models: the ledger itself, top-ups through payment providers, and the
operators' side (receipts, reconciliation runs, audit log)."""

from coins.models.ledger import Account, Entry, Side, Transaction
from coins.models.operations import OperatorAction, ReconciliationFinding, ReconciliationRun
from coins.models.payments import PaymentEvent, Receipt, Topup, TopupPackage

__all__ = [
    "Account",
    "Entry",
    "OperatorAction",
    "PaymentEvent",
    "Receipt",
    "ReconciliationFinding",
    "ReconciliationRun",
    "Side",
    "Topup",
    "TopupPackage",
    "Transaction",
]
