"""Prometheus metrics (CONTRACT section 1: `GET /metrics` with `Authorization: Bearer <METRICS_TOKEN>`).

Counters and histograms live in each process. With several processes (bin/serve's workers, the
production-like run, Celery's prefork children) `PROMETHEUS_MULTIPROC_DIR` names a directory they
all write to, and /metrics sums their files (prometheus-client's multiprocess mode), so whichever
process answers the scrape reports the whole server. bin/serve empties the directory at start.

Figures that live in the database (coins in circulation, the last reconciliation's findings) are
read at scrape time by collectors that the owning app registers (`scrape_collector_register`), so
core imports no app; their queries are cached for `DATABASE_FIGURES_TTL` seconds.
"""

import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger("huddle.metrics")
disable_created_metrics()  # no `_created` series: they double the output and no dashboard reads them

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_requests = Counter(
    "huddle_http_requests",
    "HTTP requests answered, by route pattern, method and status.",
    ["route", "method", "status"],
)
http_request_seconds = Histogram(
    "huddle_http_request_seconds",
    "Time to answer an HTTP request, by route pattern.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
open_sockets = Gauge(
    "huddle_open_sockets", "WebSockets open now (summed over live processes).", multiprocess_mode="livesum"
)
messages_sent = Counter("huddle_messages_sent", "Messages stored, by kind.", ["kind"])
messages_delivered = Counter("huddle_messages_delivered", "message.new frames written to sockets.")
message_delivery_seconds = Histogram(
    "huddle_message_delivery_seconds",
    "From a message's creation to its frame being written to a recipient's socket.",
    buckets=LATENCY_BUCKETS,
)
ledger_transactions = Counter("huddle_ledger_transactions", "Ledger transactions posted, by kind.", ["kind"])
celery_tasks = Counter(
    "huddle_celery_tasks", "Celery tasks finished, by task and outcome.", ["task", "outcome"]
)

DATABASE_FIGURES_TTL = 30.0

ScrapeFigures = Callable[[], Iterable[GaugeMetricFamily]]
_scrape_figures: dict[str, ScrapeFigures] = {}


def scrape_collector_register(name: str, figures: ScrapeFigures) -> None:
    """Report what `figures()` yields at every scrape (cached for DATABASE_FIGURES_TTL seconds).
    Registering the same name again replaces it."""
    _scrape_figures[name] = figures


class _ScrapeTimeCollector(Collector):
    """Yields the registered database figures, each cached so a scrape storm costs one query."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, list[GaugeMetricFamily]]] = {}

    def collect(self) -> Iterable[GaugeMetricFamily]:
        now = time.monotonic()
        up = GaugeMetricFamily(
            "huddle_scrape_figures_up", "1 when the database figures could be read.", labels=["figures"]
        )
        for name, figures in list(_scrape_figures.items()):
            cached = self._cache.get(name)
            if cached is None or now - cached[0] > DATABASE_FIGURES_TTL:
                try:
                    cached = (now, list(figures()))
                except Exception:  # the database being down must not take the process metrics with it
                    logger.warning("metrics: the %s figures could not be read", name, exc_info=True)
                    up.add_metric([name], 0)
                    continue
                self._cache[name] = cached
            up.add_metric([name], 1)
            yield from cached[1]
        yield up

    def forget(self) -> None:
        self._cache.clear()


scrape_time_collector = _ScrapeTimeCollector()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> bytes:
    """The text a scrape gets: every process's metrics (multiprocess mode) or this process's,
    plus the database figures."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in list(REGISTRY._collector_to_names):  # this process's default metrics
            registry.register(collector)
    registry.register(scrape_time_collector)
    return generate_latest(registry)


def process_exited(pid: int) -> None:
    """Drop a dead process's live gauges (its open sockets) from the multiprocess sums."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


def route_of(request: Any) -> str:
    """The URL pattern that served a request ("api/v1/conversations/<id:conversation_id>/messages"), so label
    values stay few; unmatched paths are "unmatched"."""
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"
