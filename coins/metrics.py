"""The ledger's figures for /metrics, read from the database at scrape time (core.metrics caches
them): coins in circulation (what users' wallets hold) and the last reconciliation's findings."""

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from coins.models import ReconciliationRun
from coins.reports import coins_in_circulation


def ledger_figures() -> Iterator[GaugeMetricFamily]:
    held = coins_in_circulation()
    yield GaugeMetricFamily("huddle_coins_in_circulation", "Coins held in users' wallets.", value=held)
    last = ReconciliationRun.objects.filter(ok__isnull=False).order_by("-started_at").first()
    findings = GaugeMetricFamily(
        "huddle_reconciliation_findings", "Findings of the last finished reconciliation run."
    )
    findings.add_metric([], last.findings.count() if last else 0)
    yield findings
    age = GaugeMetricFamily(
        "huddle_reconciliation_last_run_timestamp_seconds", "When the last finished reconciliation started."
    )
    age.add_metric([], last.started_at.timestamp() if last else 0)
    yield age
