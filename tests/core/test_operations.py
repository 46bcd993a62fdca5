"""Health, metrics, and the settings' production rules (CONTRACT section 1)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from core import views as core_views

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "channel_layer": "ok"}}


def test_healthz_names_the_failing_database(client, db, monkeypatch):
    def broken() -> None:
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setitem(core_views.HEALTH_CHECKS, "database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error")
    assert response.json()["checks"]["channel_layer"] == "ok"


@pytest.mark.redis
def test_healthz_503_when_redis_is_unreachable(client, db, settings):
    from channels.layers import channel_layers

    # given: a channel layer pointing at a port where no Redis listens
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 1}]},
        }
    }
    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["checks"]["channel_layer"].startswith("error")


def test_metrics_hidden_without_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_bearer_token(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert response.status_code == 200
    assert b"# HELP" in response.content


def test_schema_and_docs_are_served(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/friends/requests" in schema.content
    assert client.get("/api/docs/").status_code == 200


def _manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "SECURE_SSL_REDIRECT"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check():
    result = _manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        {
            "DEBUG": "0",
            "PAYMENTS_SANDBOX": "off",  # the test settings turn it on; production leaves it off
            "SECRET_KEY": "k" * 20 + "Zq8!x-Vd93@lPw0#sRt6^uYb1&nMc5*eHf7" + "j" * 10,
            "ALLOWED_HOSTS": "huddle.example",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_secret_key_with_debug_off_is_a_startup_error():
    result = _manage(["check"], {"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_on_runs_without_a_secret_key_and_insecure_cookies():
    result = _manage(
        [
            "shell",
            "-c",
            "from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT)",
        ],
        {"DEBUG": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["False", "False", "False"]


def test_tests_run_with_debug_off_and_secure_cookies():
    assert django_settings.DEBUG is False
    assert django_settings.SESSION_COOKIE_SECURE is True
