"""Resync: what a client that has everything up to message `after` has missed (CONTRACT section 7).

A sync answers, from the user's current conversations and only with messages said since the user
(last) joined each (messaging.selectors.messages_visible_to):
1. `new`: messages with id > after, in id order, at most `limit`;
2. `late` (PostgreSQL): messages with id < after that may have committed *after* message
   `after` did. Ids come from one sequence in allocation order, so 104 (conversation B) can
   commit after 105 (conversation A) was delivered; a client syncing from 105 would never see 104.
   Each message stores its transaction id and the snapshot taken before its insert. A message
   with a lower id that X's client may not have seen is one X's snapshot could not see: still
   running then (or not yet started; it got its id before X but its transaction id after). So
   `late` = id < after AND txid >= cursor's snapshot xmin (the partial index on txid bounds the
   scan to transactions since then) AND NOT pg_visible_in_snapshot(txid, cursor's snapshot).
   This is exact up to one small window: a message that committed after X's snapshot but before X
   itself did may already have reached the client and is sent again. Clients treat `message.new`
   for an id they hold as a no-op, and one socket never sends the same message twice
   (messaging.consumers remembers what it delivered).
3. `changes`: messages with id <= after edited or recalled since message `after` was created
   (changed_at >= its created_at, or a change X's snapshot could not see, as for `late`).
   Messages in `new` and `late` are sent in their current state, so they are not repeated here.
On SQLite writes are serialised (BEGIN IMMEDIATE), so id order is commit order and `late` is
always empty.
"""

from dataclasses import dataclass

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from accounts.models import User
from messaging.models import Message
from messaging.selectors import messages_visible_to

SYNC_LIMIT = 500


@dataclass(frozen=True)
class SyncResult:
    messages: list[Message]  # `late` and `new`, in id order
    changes: list[Message]  # edited or recalled, id <= after
    last: int
    has_more: bool


def _invisible_in(queryset: QuerySet, column: str, snapshot: str) -> QuerySet:
    """Rows whose transaction `column` was not visible in `snapshot` (PostgreSQL)."""
    invisible = RawSQL(  # noqa: S611 - the column name is one of two constants; the snapshot is a parameter
        f'NOT pg_visible_in_snapshot(("messaging_message"."{column}")::text::xid8, %s::pg_snapshot)',
        (snapshot,),
        output_field=BooleanField(),
    )
    return queryset.alias(invisible=invisible).filter(invisible=True)


def sync_for_user(*, user: User, after: int, limit: int | None = None) -> SyncResult:
    limit = limit or SYNC_LIMIT
    base = messages_visible_to(user).select_related("sender")
    late: list[Message] = []
    changes: list[Message] = []
    if after > 0:
        cursor = (
            Message.objects.filter(id__lte=after)
            .order_by("-id")
            .values("created_at", "txid", "snapshot_xmin", "snapshot")
            .first()
        )
        if cursor is not None:
            xmin, snapshot = cursor["snapshot_xmin"], cursor["snapshot"]
            if xmin is not None:
                late = list(
                    # X's own transaction committed with X: whoever saw X saw its other messages.
                    _invisible_in(base.filter(id__lt=after, txid__gte=xmin), "txid", snapshot)
                    .exclude(txid=cursor["txid"])
                    .order_by("id")[:limit]
                )
            late_ids = {m.pk for m in late}
            changes = list(base.filter(id__lte=after, changed_at__gte=cursor["created_at"]))
            if xmin is not None:
                changes += _invisible_in(
                    base.filter(id__lte=after, change_txid__gte=xmin), "change_txid", snapshot
                )
            changes = sorted({m.pk: m for m in changes if m.pk not in late_ids}.values(), key=lambda m: m.pk)
    room = max(limit - len(late), 1)
    new = list(base.filter(id__gt=after).order_by("id")[: room + 1])
    has_more = len(new) > room
    new = new[:room]
    return SyncResult(
        messages=late + new,
        changes=changes,
        last=new[-1].pk if new else after,
        has_more=has_more,
    )
