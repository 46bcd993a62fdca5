"""Helpers for ledger tests: funding wallets through real ledger postings."""

from accounts.models import User
from coins.ledger import credit, debit, ledger_post, system_account, wallet_for
from coins.models import Transaction


def grant(user: User, amount: int) -> Transaction:
    """Give `user` coins from the promotions account, as an operator's grant would."""
    return ledger_post(
        kind=Transaction.Kind.PROMOTION,
        legs=[debit(system_account("promotions"), amount), credit(wallet_for(user), amount)],
        memo="test grant",
    )


def transfer(sender: User, recipient: User, amount: int, key: str | None = None) -> Transaction:
    return ledger_post(
        kind=Transaction.Kind.TRANSFER,
        legs=[debit(wallet_for(sender), amount), credit(wallet_for(recipient), amount)],
        idempotency_key=key,
        actor=sender,
    )
