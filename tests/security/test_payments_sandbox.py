"""The sandbox payment provider cannot be switched on in production by accident (CONTRACT section
1): with DEBUG off it needs PAYMENTS_SANDBOX=on *and* its secret; a real-looking secret alone
leaves it off (webhook 404, top-ups 503, no checkout page, no Pay link). When it is on with DEBUG
off, `manage.py check` warns (coins.W001) and the process logs a WARNING as it starts."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from coins.checks import sandbox_payments_check, sandbox_startup_warning
from coins.models import Topup
from tests.coins.payment_support import deliver, event_for, make_package, make_topup

ROOT = Path(__file__).resolve().parents[2]


def settings_in_a_fresh_process(**env: str) -> subprocess.CompletedProcess:
    """Start Django in a new process with `env` (no PAYMENTS_* inherited) and print the switch."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PAYMENTS_", "DEBUG"))}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from coins.payments.sandbox import SandboxProvider; "
        "print(settings.PAYMENTS_SANDBOX, SandboxProvider().is_enabled())"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.parametrize(
    ("env", "enabled", "warned"),
    [
        ({"DEBUG": "0", "PAYMENTS_SANDBOX_SECRET": "a-real-looking-secret"}, False, False),
        ({"DEBUG": "0", "PAYMENTS_SANDBOX": "on"}, False, False),
        ({"DEBUG": "0", "PAYMENTS_SANDBOX": "on", "PAYMENTS_SANDBOX_SECRET": "s3cret"}, True, True),
        ({"DEBUG": "1"}, True, False),
        ({"DEBUG": "1", "PAYMENTS_SANDBOX": "off"}, False, False),
    ],
    ids=["production-secret-only", "production-switch-only", "production-both", "debug", "debug-off"],
)
def test_the_environment_decides_and_production_warns_at_startup(env, enabled, warned):
    result = settings_in_a_fresh_process(**env)
    assert result.stdout.split()[-1] == str(enabled), result
    assert ("sandbox payment provider is on with DEBUG off" in result.stderr) == warned, result.stderr


@pytest.fixture
def sandbox_off(settings):
    """Production with only the secret set (PAYMENTS_SANDBOX not on)."""
    settings.DEBUG = False
    settings.PAYMENTS_SANDBOX = False
    settings.PAYMENTS_SANDBOX_SECRET = "sandbox-test-secret"


def test_off_the_webhook_is_404_and_credits_nothing(sandbox_off, user):
    topup = make_topup(user)
    r = deliver(event_for(topup))  # correctly signed with the configured secret
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    topup.refresh_from_db()
    assert topup.status == Topup.Status.PENDING


def test_off_no_topup_and_no_checkout(sandbox_off, api, user):
    r = api.post(
        "/api/v1/coins/topups", {"package": make_package().pk}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert r.status_code == 503 and r.json()["code"] == "payments_unavailable"
    topup = make_topup(user)
    browser = Client()
    browser.force_login(user)
    assert browser.get(f"/pay/sandbox/{topup.pk}/").status_code == 404
    assert browser.post(f"/pay/sandbox/{topup.pk}/", {"outcome": "pay"}).status_code == 404
    page = browser.get("/wallet/", secure=True).content.decode()
    assert f"/pay/sandbox/{topup.pk}/" not in page  # no Pay button leading to a 404


def test_on_the_wallet_shows_the_pay_button(user, settings):
    topup = make_topup(user)
    browser = Client()
    browser.force_login(user)
    assert f'href="/pay/sandbox/{topup.pk}/"' in browser.get("/wallet/").content.decode()


def test_on_in_production_the_system_check_warns(settings):
    settings.DEBUG = False
    settings.PAYMENTS_SANDBOX = True
    [warning] = sandbox_payments_check()
    assert warning.id == "coins.W001" and "without paying" in warning.msg
    with pytest.raises(SystemCheckError, match=r"coins\.W001"):
        call_command("check", fail_level="WARNING")


@pytest.mark.parametrize(("debug", "switch"), [(True, True), (False, False)], ids=["debug", "off"])
def test_no_warning_with_debug_or_with_the_sandbox_off(settings, caplog, debug, switch):
    settings.DEBUG = debug
    settings.PAYMENTS_SANDBOX = switch
    assert sandbox_payments_check() == []
    with caplog.at_level(logging.WARNING, logger="huddle.payments"):
        sandbox_startup_warning()
    assert not caplog.records


def test_on_in_production_the_startup_log_warns(settings, caplog):
    settings.DEBUG = False
    settings.PAYMENTS_SANDBOX = True
    with caplog.at_level(logging.WARNING, logger="huddle.payments"):
        sandbox_startup_warning()
    assert [r.levelname for r in caplog.records] == ["WARNING"]
