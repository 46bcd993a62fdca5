"""The Celery application (`config.celery:app`). Without REDIS_URL tasks run eagerly in-process.

Run a worker with `python -m celery -A config.celery:app worker` (add `--beat` for the nightly
reconciliation). With the default prefork pool, each child must open its own database
connections: a psycopg pool (or connection) inherited across fork() shares sockets with the
parent, and two processes talking on one socket corrupt both sessions (PITFALLS: Database).
Celery's Django fixup closes connections around tasks; `_close_pools_before_fork` makes sure the
parent holds no pool when it forks, so every child builds its own on first use.
"""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("huddle")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _close_pools_before_fork(**kwargs: object) -> None:
    """In the main worker process, before any pool child is forked: close its connections and
    psycopg pools (there normally are none; a startup check or import may have opened one)."""
    from django.db import connections

    for conn in connections.all():
        conn.close()
        pools = getattr(type(conn), "_connection_pools", {})
        if conn.alias in pools:
            conn.close_pool()


# --- Request ids and task metrics (core.observability, core.metrics) ----------------------------
@signals.before_task_publish.connect
def _carry_request_id(headers: dict | None = None, **kwargs: object) -> None:
    """A task dispatched while handling a request carries its request id."""
    from core.observability import current_request_id

    request_id = current_request_id()
    if headers is not None and request_id and "huddle_request_id" not in headers:
        headers["huddle_request_id"] = request_id


@signals.task_prerun.connect
def _bind_request_id(task: object = None, **kwargs: object) -> None:
    """Log lines of the task carry the request id it was dispatched under (or a new one)."""
    from core.observability import bind_request_id, request_id_from

    request = getattr(task, "request", None)
    given = getattr(request, "huddle_request_id", None) or (getattr(request, "headers", None) or {}).get(
        "huddle_request_id"
    )
    bind_request_id(request_id_from(given), task=getattr(task, "name", ""))


@signals.task_postrun.connect
def _count_task(task: object = None, state: str | None = None, **kwargs: object) -> None:
    from core.metrics import celery_tasks

    celery_tasks.labels(getattr(task, "name", "unknown"), (state or "unknown").lower()).inc()
