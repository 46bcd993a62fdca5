"""Startup warnings about coins' configuration.

The sandbox payment provider credits coins for a button press, with no money behind them. With
DEBUG off it runs only when the operator set both PAYMENTS_SANDBOX=on and its secret (CONTRACT
section 1); then `manage.py check` reports coins.W001 and every server process logs a WARNING as
it starts, so nobody runs it in production without noticing.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

logger = logging.getLogger("huddle.payments")

SANDBOX_IN_PRODUCTION = (
    "The sandbox payment provider is on with DEBUG off: anyone can top up coins without paying "
    "(PAYMENTS_SANDBOX=on and PAYMENTS_SANDBOX_SECRET are set)."
)


def sandbox_on_in_production() -> bool:
    from coins.payments.sandbox import SandboxProvider

    return not settings.DEBUG and SandboxProvider().is_enabled()


@register("coins", deploy=False)
def sandbox_payments_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not sandbox_on_in_production():
        return []
    return [
        Warning(
            SANDBOX_IN_PRODUCTION,
            hint="Unset PAYMENTS_SANDBOX (or set it to off) unless this is a test or staging site.",
            id="coins.W001",
        )
    ]


def sandbox_startup_warning() -> None:
    """Called once per process when the apps are ready (the ASGI app, Celery, manage.py)."""
    if sandbox_on_in_production():
        logger.warning(
            "%s Unset PAYMENTS_SANDBOX unless this is a test or staging site.", SANDBOX_IN_PRODUCTION
        )
