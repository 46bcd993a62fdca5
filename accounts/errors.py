"""The accounts domain's errors, with the contract's codes (CONTRACT sections 2 and 3).

`Blocked` and `NotFriends` are the one class of their meaning for the whole project: messaging
(direct messages) and coins (transfers, gifts) raise these too.
"""

from core.exceptions import ApplicationError, Conflict, Forbidden, RateLimited


class InvalidCredentials(ApplicationError):
    code = "invalid_credentials"
    default_detail = "The username or password is wrong."


class LoginLockedOut(RateLimited):
    """Too many failed logins for the account or the address (accounts.login_limits)."""

    default_detail = "Too many failed logins; try again later."


class Blocked(Forbidden):
    code = "blocked"
    default_detail = "You cannot do this with this person."


class NotFriends(Forbidden):
    code = "not_friends"
    default_detail = "You can only do this with friends."


class AlreadyFriends(Conflict):
    code = "already_friends"
    default_detail = "You are already friends."


class RequestPending(Conflict):
    code = "request_pending"
    default_detail = "A friend request between you is already waiting for an answer."


class RequestNotPending(Conflict):
    code = "request_not_pending"
    default_detail = "This friend request was already answered."
