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
