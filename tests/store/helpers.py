"""Helpers for store tests: coins to spend, a look at the ledger, buying without HTTP."""

import io
import json
import uuid

from django.core.management import call_command

from accounts.models import User
from coins.ledger import wallet_balance
from coins.models import Transaction
from store.models import Purchase
from store.services import purchase_create
from tests.coins.helpers import grant

__all__ = ["buy", "grant", "ledger_check_ok", "purchase_transactions", "wallet_balance"]


def buy(user: User, sku: str, **kwargs: object) -> Purchase:
    kwargs.setdefault("idempotency_key", str(uuid.uuid4()))
    return purchase_create(buyer=user, sku=sku, **kwargs)


def purchase_transactions(user: User) -> list[Transaction]:
    return list(Transaction.objects.filter(kind=Transaction.Kind.PURCHASE, actor=user).order_by("pk"))


def ledger_check_ok() -> dict:
    """Run `manage.py ledger_check`; assert it reports ok and return its JSON."""
    out = io.StringIO()
    call_command("ledger_check", stdout=out)
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert report["ok"] is True, report
    return report
