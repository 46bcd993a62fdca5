"""The coins domain's errors, with the contract's codes. Friends-only rules raise
accounts.errors.NotFriends; a key reused for another operation is core.exceptions.IdempotencyKeyReused."""

from core.exceptions import ApplicationError, Conflict


class InsufficientFunds(Conflict):
    code = "insufficient_funds"
    default_detail = "Your wallet does not hold enough coins for this."


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


class UnknownAccount(ApplicationError):
    """A programming error: a leg names an account that does not exist (an unsaved Account)."""

    status_code = 500
    code = "unknown_account"
    default_detail = "A ledger leg names an account that does not exist."
