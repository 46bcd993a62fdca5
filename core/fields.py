"""Strict serializer fields for money (CONTRACT section 2: coin amounts are JSON integers).

DRF's IntegerField accepts "5", 5.0 and True; a coin amount must be a real JSON integer, so
anything else (a string, a fraction, a boolean, null) is refused with the usual `invalid` error.
"""

from typing import Any

from rest_framework import serializers


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else (bool is an int subclass in Python, so it is refused too)."""

    default_error_messages = {"invalid": "A whole number (JSON integer) is required."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class CoinAmountField(StrictIntegerField):
    """A positive whole number of coins."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        super().__init__(**kwargs)
