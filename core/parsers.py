"""The API's JSON parser: DRF's, plus the text rules of core.text (no U+0000 anywhere), and JSON
nested past Python's recursion limit is 400 `malformed` like any unreadable body (not a 500)."""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.text import reject_nul


class HuddleJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        reject_nul(data)
        return data
