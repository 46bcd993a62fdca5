"""What a request may carry, checked where input enters (the API's JSON parser, socket frames,
the payment webhook) and again by services that server code calls directly: one rule, so HTTP
and the socket refuse the same things, with 400 `invalid` naming the field (CONTRACT section 4).

Refused anywhere in a JSON value, keys included:
- U+0000 in text: PostgreSQL cannot store it in `text` or `jsonb` (PITFALLS);
- a lone surrogate (a `\\ud800` escape is valid JSON but not Unicode text): it can be neither
  stored nor encoded back into a response;
- an integer outside 64 bits (signed): PostgreSQL's bigint and msgpack, which publishes socket
  events, take no more (PITFALLS).
"""

from typing import Any

from core.exceptions import InvalidInput

MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)

NUL_MESSAGE = "Text may not contain the NUL character (U+0000)."
SURROGATE_MESSAGE = "Text must be valid Unicode (no lone surrogates)."
INTEGER_MESSAGE = "Integers must fit in 64 bits."


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL_MESSAGE
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def is_storable_text(text: str) -> bool:
    return _text_problem(text) is None


def _printable(path: str) -> str:
    return path.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode()


def unstorable_path(value: Any) -> tuple[str, str] | None:
    """(dotted path, message) of the first thing in `value` that may not be stored, else None.
    Iterative, so any nesting depth is fine."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return _printable(where) or "non_field_errors", problem
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not MIN_INT64 <= item <= MAX_INT64:
                return _printable(where) or "non_field_errors", INTEGER_MESSAGE
        elif isinstance(item, dict):
            for key, inner in item.items():
                key_text = str(key)
                inner_path = f"{where}.{key_text}" if where else key_text
                problem = _text_problem(key_text)
                if problem:
                    return _printable(inner_path), problem
                stack.append((inner_path, inner))
        elif isinstance(item, list):
            stack.extend(
                (f"{where}.{index}" if where else str(index), inner) for index, inner in enumerate(item)
            )
    return None


def reject_unstorable(value: Any) -> None:
    """Raise InvalidInput naming the field if `value` holds anything unstorable (see above)."""
    found = unstorable_path(value)
    if found is not None:
        where, problem = found
        raise InvalidInput(problem, fields={where: [problem]})
