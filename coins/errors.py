"""The coins domain's errors, with the contract's codes."""

from core.exceptions import ApplicationError, Conflict, Forbidden


class InsufficientFunds(Conflict):
    code = "insufficient_funds"
    default_detail = "Your wallet does not hold enough coins for this."


class NotFriends(Forbidden):
    code = "not_friends"
    default_detail = "You can only do this with friends."


class AlreadyReversed(Conflict):
    code = "already_reversed"
    default_detail = "This transaction has already been reversed."


class NotReversible(Conflict):
    code = "not_reversible"
    default_detail = "This transaction cannot be reversed."


class UnbalancedTransaction(ApplicationError):
    """A programming error: legs whose debits and credits differ never reach the database."""

    status_code = 500
    code = "unbalanced_transaction"
    default_detail = "A ledger transaction must have two or more legs whose debits equal its credits."


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"
    default_detail = "This key was already used for a different ledger operation."
