"""Rules for text that clients send, applied where input enters (the API's JSON parser, socket
frames): one place, so HTTP and the socket refuse the same things.

PostgreSQL cannot store U+0000 in `text` or `jsonb` (PITFALLS): text anywhere in a request that
contains it is refused with 400 `invalid` (CONTRACT section 4) before it can reach SQL.
"""

from typing import Any

from core.exceptions import InvalidInput

NUL = "\x00"


def nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (value or object key) holding U+0000, else None.
    Iterative, so any nesting depth is fine."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return where or "non_field_errors"
        elif isinstance(item, dict):
            for key, inner in item.items():
                key_text = str(key)
                inner_path = f"{where}.{key_text}" if where else key_text
                if NUL in key_text:
                    return inner_path.replace(NUL, "\\u0000")
                stack.append((inner_path, inner))
        elif isinstance(item, list):
            stack.extend(
                (f"{where}.{index}" if where else str(index), inner) for index, inner in enumerate(item)
            )
    return None


def reject_nul(value: Any) -> None:
    """Raise InvalidInput naming the field if any text in `value` contains U+0000."""
    where = nul_path(value)
    if where is not None:
        raise InvalidInput(
            "Text may not contain the NUL character (U+0000).",
            fields={where: ["Text may not contain the NUL character (U+0000)."]},
        )
