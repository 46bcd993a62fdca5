"""The operators' dashboard figures: coins in circulation, coins issued and spent per day, messages
and active people per day, over the last DAYS days, with small bar charts. Read from the ledger and
message tables (each app's reports) and cached for CACHE_SECONDS: a busy admin costs one set of
queries every few minutes."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.cache import cache
from django.utils import timezone

from coins.reports import coins_in_circulation, coins_per_day
from messaging.reports import messages_per_day

DAYS = 30
CACHE_SECONDS = 300
CACHE_KEY = "dashboard:figures:v1"
CHART_WIDTH, CHART_HEIGHT = 300, 60


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Series:
    title: str
    total: int
    today: int
    bars: list[Bar]


def _series(title: str, days: list[date], values: dict[date, int]) -> Series:
    top = max([*values.values(), 1])
    step = CHART_WIDTH / len(days)
    bars = []
    for i, day in enumerate(days):
        value = values.get(day, 0)
        height = CHART_HEIGHT * value / top
        bars.append(
            Bar(i * step, CHART_HEIGHT - height, max(step - 1, 1), height, f"{day:%Y-%m-%d}: {value:,}")
        )
    return Series(title, sum(values.values()), values.get(days[-1], 0), bars)


def dashboard_figures(*, today: date | None = None) -> dict:
    """Everything the dashboard shows (cached)."""
    figures = cache.get(CACHE_KEY) if today is None else None
    if figures is not None:
        return figures
    today = today or timezone.now().date()
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    coins = coins_per_day(since=days[0])
    chat = messages_per_day(since=days[0])
    figures = {
        "days": DAYS,
        "since": days[0],
        "circulation": coins_in_circulation(),
        "series": [
            _series("Coins issued", days, {d.day: d.issued for d in coins}),
            _series("Coins spent", days, {d.day: d.spent for d in coins}),
            _series("Messages", days, {d.day: d.messages for d in chat}),
            _series("Active people", days, {d.day: d.active_users for d in chat}),
        ],
        "computed_at": timezone.now(),
    }
    cache.set(CACHE_KEY, figures, CACHE_SECONDS)
    return figures
