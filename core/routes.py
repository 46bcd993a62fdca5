"""URL helpers.

- API paths are written without a trailing slash; one with it works too, under the same name (the
  idempotency scope is the route, so both spellings are one scope: core.idempotency).
- `<id:name>` is a non-negative integer that fits a 64-bit signed column (ids, account numbers):
  a longer number matches no route (404), instead of reaching the database and failing there.
"""

from collections.abc import Callable

from django.urls import URLPattern, path, register_converter

from core.input_rules import MAX_INT64

MAX_ID = MAX_INT64


class IdConverter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError("past 64 bits")  # the resolver treats it as no match
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")


def api_path(route: str, view: Callable, name: str) -> list[URLPattern]:
    return [path(route, view, name=name), path(f"{route}/", view, name=name)]
