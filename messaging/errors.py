"""The messaging domain's errors, with the contract's codes (CONTRACT sections 4 and 7)."""

from accounts.errors import Blocked, NotFriends
from core.exceptions import ApplicationError, Conflict, Forbidden, InvalidInput, NotFound

__all__ = [
    "Blocked",
    "BodyTooLong",
    "ConversationNotFound",
    "GroupFull",
    "MessageNotFound",
    "NotEditable",
    "NotFriends",
    "NotGroup",
    "NotRecallable",
    "RecallWindowPassed",
    "SenderGone",
]


class ConversationNotFound(NotFound):
    default_detail = "No such conversation."


class MessageNotFound(NotFound):
    default_detail = "No such message."


class NotEditable(ApplicationError):
    code = "not_editable"
    default_detail = "Only your own text messages that are not recalled can be edited."


class RecallWindowPassed(Forbidden):
    code = "recall_window_passed"
    default_detail = "Messages can be recalled only within 2 minutes of sending."


class NotRecallable(Conflict):
    """A red packet stays in the conversation: its card is how members claim it."""

    code = "not_recallable"
    default_detail = "A red packet cannot be recalled; what is not claimed goes back to you when it expires."


class GroupFull(ApplicationError):
    code = "group_full"
    default_detail = "A group holds at most 500 members."


class NotGroup(ApplicationError):
    code = "not_a_group"
    default_detail = "This can only be done in a group conversation."


class BodyTooLong(InvalidInput):
    """HTTP: 400 `invalid` with `fields.body`; the socket reports it as `too_long`."""


class SenderGone(ApplicationError):
    """The acting user was deactivated or deleted after authenticating (the socket closes 4401)."""

    status_code = 401
    code = "not_authenticated"
    default_detail = "This account is no longer active."
