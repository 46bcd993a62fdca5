"""Read-only figures for the operators' dashboard: messages and active people per UTC day."""

from dataclasses import dataclass
from datetime import UTC, date

from django.db.models import Count
from django.db.models.functions import TruncDate

from messaging.models import Message


@dataclass(frozen=True)
class MessagesDay:
    day: date
    messages: int
    active_users: int  # people who sent at least one message that day


def messages_per_day(*, since: date) -> list[MessagesDay]:
    rows = (
        Message.objects.filter(created_at__date__gte=since, sender__isnull=False)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(messages=Count("id"), active_users=Count("sender", distinct=True))
        .order_by("day")
    )
    return [MessagesDay(r["day"], r["messages"], r["active_users"]) for r in rows]
