"""Request ids through HTTP, logs and Celery tasks; JSON log lines."""

import json
import logging
from types import SimpleNamespace

import pytest
import structlog
from django.test import Client

from config.celery import _bind_request_id, _carry_request_id
from core.observability import bind_request_id, current_request_id, log_formatter


@pytest.fixture(autouse=True)
def _clean_context():
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


@pytest.mark.django_db
def test_every_answer_carries_a_request_id_a_proxys_sane_one_kept():
    client = Client()
    fresh = client.get("/healthz")["X-Request-ID"]
    assert len(fresh) == 32 and fresh != client.get("/healthz")["X-Request-ID"]
    assert client.get("/healthz", HTTP_X_REQUEST_ID="edge-1234abcd")["X-Request-ID"] == "edge-1234abcd"
    # Anything that does not look like an id (spaces, newlines, too long) is replaced.
    for bad in ("bad id", "x\ny-12345678", "z" * 65, "short"):
        assert client.get("/healthz", HTTP_X_REQUEST_ID=bad)["X-Request-ID"] not in (bad, "")
    assert (
        client.get("/api/v1/nothing-here", HTTP_X_REQUEST_ID="edge-5678abcd")["X-Request-ID"]
        == "edge-5678abcd"
    )


def test_json_log_lines_carry_the_bound_request_id():
    bind_request_id("req-0123456789", user=7)
    record = logging.LogRecord("huddle.test", logging.WARNING, __file__, 1, "paid %s coins", (5,), None)
    line = json.loads(log_formatter("json").format(record))
    assert line["event"] == "paid 5 coins"
    assert line["request_id"] == "req-0123456789" and line["user"] == 7
    assert line["level"] == "warning" and line["logger"] == "huddle.test" and line["timestamp"]
    plain = log_formatter("plain").format(record)
    assert "paid 5 coins" in plain and "req-0123456789" in plain


def test_a_task_dispatched_under_a_request_logs_under_its_id():
    bind_request_id("req-abcdef012345")
    headers: dict = {}
    _carry_request_id(headers=headers)
    assert headers["huddle_request_id"] == "req-abcdef012345"

    structlog.contextvars.clear_contextvars()  # the worker: another process, another context
    task = SimpleNamespace(
        name="coins.send_receipt", request=SimpleNamespace(huddle_request_id="req-abcdef012345")
    )
    _bind_request_id(task=task)
    assert current_request_id() == "req-abcdef012345"
    _bind_request_id(task=SimpleNamespace(name="beat.task", request=SimpleNamespace()))  # no id: a new one
    assert current_request_id() not in (None, "req-abcdef012345")
