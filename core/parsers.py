"""The API's JSON parser: DRF's, plus the input rules of core.input_rules (no U+0000, lone
surrogate or integer past 64 bits anywhere), and JSON
nested past Python's recursion limit is 400 `malformed` like any unreadable body (not a 500)."""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.input_rules import reject_unstorable


class HuddleJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        reject_unstorable(data)
        return data
