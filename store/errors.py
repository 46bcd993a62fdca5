"""The store's errors, with the contract's codes (CONTRACT section 6). Gifts to someone who is not
a friend raise accounts.errors.NotFriends; too few coins is coins.errors.InsufficientFunds."""

from core.exceptions import Conflict, Forbidden, NotFound


class ItemNotFound(NotFound):
    default_detail = "No such item on sale."


class PurchaseNotFound(NotFound):
    default_detail = "No such purchase."


class NotOwned(Forbidden):
    """A sticker from a pack the sender does not own (over HTTP and the socket alike)."""

    code = "not_owned"
    default_detail = "You do not own this sticker pack; buy it in the store first."


class AlreadyOwned(Conflict):
    code = "already_owned"
    default_detail = "This item is already owned; it can be bought only once."


class NotVip(NotFound):
    default_detail = "You have no VIP membership."


class AlreadyRefunded(Conflict):
    code = "already_refunded"
    default_detail = "This purchase has already been refunded."


class NotRefundable(Conflict):
    code = "not_refundable"
    default_detail = "This purchase cannot be refunded: the item has been used up."
