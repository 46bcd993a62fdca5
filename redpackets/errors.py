"""The red-packet domain's errors, with the contract's codes (CONTRACT section 6).

A packet the caller may not see (not a member of its conversation, or a member who joined after
it was sent) is RedPacketNotFound, exactly as if it did not exist.
"""

from rest_framework import status

from core.exceptions import ApplicationError, Conflict, Forbidden, NotFound


class RedPacketNotFound(NotFound):
    default_detail = "No such red packet."


class SenderCannotClaim(Forbidden):
    code = "sender_cannot_claim"
    default_detail = "You sent this red packet; it is for the others."


class AlreadyClaimed(Conflict):
    code = "already_claimed"
    default_detail = "You have already claimed this red packet."


class Gone(ApplicationError):
    status_code = status.HTTP_410_GONE
    code = "gone"
    default_detail = "This is no longer available."


class RedPacketExhausted(Gone):
    code = "exhausted"
    default_detail = "Every share of this red packet has been claimed."


class RedPacketExpired(Gone):
    code = "expired"
    default_detail = "This red packet has expired; what was left went back to its sender."
