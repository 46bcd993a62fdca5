"""Errors of the payment side, with the contract's codes (CONTRACT section 5)."""

from rest_framework import status

from core.exceptions import ApplicationError


class PaymentsUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "payments_unavailable"
    default_detail = "Buying coins is not available right now."


class BadSignature(ApplicationError):
    code = "bad_signature"
    default_detail = "The webhook signature is missing or does not match."


class MalformedNotification(ApplicationError):
    code = "malformed"
    default_detail = "The webhook body is not a JSON object with the expected fields."


class UnknownTopup(ApplicationError):
    code = "unknown_topup"
    default_detail = "No top-up with this id is known to this provider."


class AmountMismatch(ApplicationError):
    code = "amount_mismatch"
    default_detail = "The amount or currency does not match the top-up."
