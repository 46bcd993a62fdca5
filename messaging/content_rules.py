"""Checks of what clients send that other apps own, registered at startup.

Messaging validates the shape of a message (messaging.services); whether the sender may use what
the message refers to belongs to the app that sells it (the store owns sticker packs). That app
registers a check here from its AppConfig.ready(), so messaging never imports it (the import
contracts in .importlinter forbid the cycle).

A check is called as `check(sender_id, data)` for client sends (`trusted=False`) of its kind only,
after the data passed messaging's own validation, and raises an ApplicationError to refuse. A kind
without checks costs one dictionary lookup (text sends stay as fast as before).
"""

from collections.abc import Callable
from typing import Any

ContentCheck = Callable[[int, dict[str, Any]], None]

_CHECKS: dict[str, tuple[ContentCheck, ...]] = {}


def content_rule_register(kind: str, check: ContentCheck) -> None:
    """Add `check` for client messages of `kind` (idempotent: registering it twice is once)."""
    checks = _CHECKS.get(kind, ())
    if check not in checks:
        _CHECKS[kind] = (*checks, check)


def content_rules_check(*, kind: str, sender_id: int, data: dict[str, Any]) -> None:
    """Run the checks registered for `kind`; each raises to refuse the send."""
    for check in _CHECKS.get(kind, ()):
        check(sender_id, data)
