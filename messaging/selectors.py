"""Reads of conversations, members and messages, always as seen by one user.

The fetch-with-permission helper `membership_get` raises the same NotFound as for something that
does not exist: a non-member cannot tell a conversation exists.

A member sees a conversation's messages from the moment they (last) joined: those with id >
`Membership.history_from_id` (CONTRACT section 4). History, search, sync, unread counts and the
last message all apply it; so do edits, recalls and their events (messaging.services).
"""

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest
from rest_framework.renderers import JSONRenderer

from accounts.models import User
from accounts.selectors import user_render_context
from messaging.errors import ConversationNotFound
from messaging.models import Conversation, Membership, Message
from messaging.rendering import MESSAGE_ROW, iso, message_payload, message_row_payload


def membership_get(*, user: User, conversation_id: int) -> Membership:
    """The user's membership (with its conversation), or ConversationNotFound."""
    membership = (
        Membership.objects.select_related("conversation")
        .filter(user_id=user.pk, conversation_id=conversation_id)
        .first()
    )
    if membership is None:
        raise ConversationNotFound()
    return membership


def member_ids_of(conversation_id: int) -> list[int]:
    return list(Membership.objects.filter(conversation_id=conversation_id).values_list("user_id", flat=True))


def member_ids_seeing(conversation_id: int, message_id: int) -> list[int]:
    """The members who see message `message_id` (they joined before it was said): the recipients
    of its edits and recalls."""
    return list(
        Membership.objects.filter(
            conversation_id=conversation_id, history_from_id__lt=message_id
        ).values_list("user_id", flat=True)
    )


def messages_visible_to(user: User) -> QuerySet[Message]:
    """Every message the user sees: in their conversations, said since they (last) joined. One
    semi-join against the memberships, which leads with user."""
    seen = Membership.objects.filter(
        user_id=user.pk, conversation_id=OuterRef("conversation_id"), history_from_id__lt=OuterRef("id")
    )
    return Message.objects.filter(Exists(seen))


def _count(queryset: QuerySet[Message]) -> Coalesce:
    return Coalesce(
        Subquery(
            queryset.order_by().values("conversation_id").annotate(count=Count("id")).values("count"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


def _unread_count_subquery(user: User) -> Case:
    """Other people's non-recalled messages after the read marker (or after joining), for a
    membership queryset, without visiting the unread messages themselves: `seq` numbers a
    conversation's messages 1, 2, 3, ... in id order with no holes (messaging.models), so the
    messages after the marker number `last_seq` minus the seq of the last message at or before the
    marker (one probe of the (conversation, id) index). Taken away from that: the user's own
    messages after the marker (the (sender, conversation, id) index) and other people's recalled
    ones (a partial index of recalled messages), both few. Counting the unread rows instead took
    a scan of every unread message: tens of thousands in a busy group nobody reads, and a
    conversation list of 200 took hundreds of ms (docs/PERFORMANCE.md, Reads). A conversation
    read up to its last message costs nothing (CASE evaluates no subquery)."""
    marker = Greatest(OuterRef("last_read_id"), OuterRef("history_from_id"))
    after_marker = Message.objects.filter(conversation_id=OuterRef("conversation_id"), id__gt=marker)
    seq_at_marker = (
        Message.objects.filter(conversation_id=OuterRef("conversation_id"), id__lte=marker)
        .order_by("-id")
        .values("seq")[:1]
    )
    unread = (
        F("conversation__last_seq")
        - Coalesce(Subquery(seq_at_marker, output_field=IntegerField()), Value(0))
        - _count(after_marker.filter(sender_id=user.pk))
        - _count(after_marker.filter(recalled=True).exclude(sender_id=user.pk))
    )
    return Case(
        When(
            conversation__last_message_id__gt=Greatest(F("last_read_id"), F("history_from_id")),
            then=unread,
        ),
        default=Value(0),
        output_field=IntegerField(),
    )


# Resync bookkeeping that no payload shows (messaging.rendering): not loaded for pages and lists.
_NOT_RENDERED = ("txid", "snapshot_xmin", "snapshot", "changed_at", "change_txid", "recalled_at")


def _for_rendering(queryset: QuerySet[Message]) -> QuerySet[Message]:
    """Messages to render with message_payload: their sender joined, the bookkeeping left out."""
    return queryset.select_related("sender").defer(*_NOT_RENDERED)


@dataclass(frozen=True)
class ConversationView:
    membership: Membership
    unread_count: int
    last_message: Message | None
    other_user: User | None  # the other person of a direct conversation
    peer_last_read_id: int = 0  # their read marker (direct conversations)


def _conversation_views(user: User, memberships: list[Membership]) -> list[ConversationView]:
    """Last messages and direct partners for many conversations in two queries. A conversation's
    last message said before the member joined is not theirs to see (None)."""
    last_ids = [
        m.conversation.last_message_id
        for m in memberships
        if m.conversation.last_message_id > m.history_from_id
    ]
    conversations = [m.conversation for m in memberships]
    last_messages = {m.pk: m for m in _for_rendering(Message.objects.filter(pk__in=last_ids))}
    direct_ids = [c.pk for c in conversations if c.kind == Conversation.Kind.DIRECT]
    others = {
        m.conversation_id: m
        for m in Membership.objects.select_related("user")
        .filter(conversation_id__in=direct_ids)
        .exclude(user_id=user.pk)
    }
    return [
        ConversationView(
            membership=m,
            unread_count=getattr(m, "unread_count", 0),
            last_message=last_messages.get(m.conversation.last_message_id)
            if m.conversation.last_message_id > m.history_from_id
            else None,
            other_user=others[m.conversation_id].user if m.conversation_id in others else None,
            peer_last_read_id=others[m.conversation_id].last_read_id if m.conversation_id in others else 0,
        )
        for m in memberships
    ]


def conversation_list_for_user(user: User) -> list[ConversationView]:
    """The user's conversations, most recent activity first (three queries in all)."""
    memberships = list(
        Membership.objects.filter(user_id=user.pk)
        .select_related("conversation")
        .annotate(unread_count=_unread_count_subquery(user))
        .order_by("-conversation__last_activity", "-conversation_id")
    )
    return _conversation_views(user, memberships)


def conversation_view(*, user: User, conversation_id: int) -> ConversationView:
    membership = (
        Membership.objects.filter(user_id=user.pk, conversation_id=conversation_id)
        .select_related("conversation")
        .annotate(unread_count=_unread_count_subquery(user))
        .first()
    )
    if membership is None:
        raise ConversationNotFound()
    return _conversation_views(user, [membership])[0]


def _conversation_row_payload(
    conversation: tuple, membership: tuple, unread_count: int, last_message: dict | None, peer: tuple | None
) -> dict[str, Any]:
    """The conversation object, the one place its shape and rules are built.

    conversation: (id, kind, title, members_count, created_at); membership: the caller's (role,
    muted, last_read_id); last_message: its payload, or None when there is none or it was said
    before the caller joined; peer: a direct conversation's other person (number, display_name,
    read_receipts, last_read_id), or None."""
    conversation_id, kind, title, members_count, created_at = conversation
    role, muted, last_read_id = membership
    peer_number = peer_last_read_id = None
    if kind == Conversation.Kind.DIRECT:
        title = ""
        if peer is not None:
            peer_number, title, read_receipts, their_last_read_id = peer
            # As the socket's `read` events: only from someone whose read receipts are on.
            if read_receipts:
                peer_last_read_id = their_last_read_id
    return {
        "id": conversation_id,
        "kind": kind,
        "title": title,
        "members_count": members_count,
        "unread_count": unread_count,
        "last_message": last_message,
        "my_role": role,
        "muted": muted,
        "last_read_id": last_read_id,
        "peer": peer_number,
        "peer_last_read_id": peer_last_read_id,
        "created_at": iso(created_at),
    }


def conversation_payload(view: ConversationView) -> dict[str, Any]:
    membership, conversation, other = view.membership, view.membership.conversation, view.other_user
    return _conversation_row_payload(
        (
            conversation.pk,
            conversation.kind,
            conversation.title,
            conversation.members_count,
            conversation.created_at,
        ),
        (membership.role, membership.muted, membership.last_read_id),
        view.unread_count,
        message_payload(view.last_message) if view.last_message else None,
        None
        if other is None
        else (other.number, other.display_name, other.read_receipts, view.peer_last_read_id),
    )


# The caller's membership and its conversation, for conversation_list_payload.
_LIST_ROW = (
    "conversation_id",
    "conversation__kind",
    "conversation__title",
    "conversation__members_count",
    "conversation__created_at",
    "role",
    "muted",
    "last_read_id",
    "conversation__last_message_id",
    "history_from_id",
    "unread_count",
)


def conversation_list_payload(user: User) -> list[dict[str, Any]]:
    """`GET conversations`: the user's conversation objects, most recent activity first.

    The same three queries and the same rules as conversation_list_for_user + conversation_payload
    (tests/messaging/test_reads_parity.py), read as tuples: with 200 conversations, building the
    model instances (about 1,100 of them) was most of the list's cost (docs/PERFORMANCE.md, Reads)."""
    rows = list(
        Membership.objects.filter(user_id=user.pk)
        .annotate(unread_count=_unread_count_subquery(user))
        .order_by("-conversation__last_activity", "-conversation_id")
        .values_list(*_LIST_ROW)
    )
    # A conversation's last message said before the member joined is not theirs to see.
    last_ids = [row[8] for row in rows if row[8] > row[9]]
    last_messages = {
        row[0]: message_row_payload(row)
        for row in Message.objects.filter(pk__in=last_ids).values_list(*MESSAGE_ROW)
    }
    direct_ids = [row[0] for row in rows if row[1] == Conversation.Kind.DIRECT]
    peers = {
        row[0]: row[1:]
        for row in Membership.objects.filter(conversation_id__in=direct_ids)
        .exclude(user_id=user.pk)
        .values_list(
            "conversation_id", "user__number", "user__display_name", "user__read_receipts", "last_read_id"
        )
    }
    return [
        _conversation_row_payload(
            row[0:5],
            row[5:8],
            row[10],
            last_messages.get(row[8]) if row[8] > row[9] else None,
            peers.get(row[0]),
        )
        for row in rows
    ]


# --- The list as JSON built by PostgreSQL ----------------------------------------------------------
# The same objects as _conversation_row_payload and messaging.rendering.message_row_payload, built
# by the database in the list's one statement, so Python passes the bytes through (with 200
# conversations, Python's rendering and JSON encoding were most of what was left of the list's
# time; docs/PERFORMANCE.md, Reads). tests/messaging/test_reads_parity.py proves both renderings
# give the same JSON for the same data.


def _sql_iso(column: str) -> str:
    """messaging.rendering.iso in SQL: UTC, microseconds only when not zero, "Z"."""
    return (
        f"replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || 'Z'"
    )


def _sql_style_value(key: str) -> str:
    """`style.get(key) or None` in SQL: a falsy JSON value (null, false, 0, "", [], {}) is null."""
    value = f"lm.sender_style -> '{key}'"
    return (
        f"CASE WHEN coalesce({value}, 'null') IN ('null', 'false', '0', '\"\"', '[]', '{{}}') "
        f"THEN NULL ELSE {value} END"
    )


_SQL_MESSAGE = f"""json_build_object(
    'id', lm.id, 'conversation', lm.conversation_id, 'seq', lm.seq,
    'sender', CASE WHEN su.id IS NULL THEN NULL
                   ELSE json_build_object('number', su.number, 'display_name', su.display_name) END,
    'kind', lm.kind, 'body', lm.body, 'client_id', lm.client_id,
    'created_at', {_sql_iso("lm.created_at")},
    'edited_at', CASE WHEN lm.edited_at IS NULL THEN NULL ELSE {_sql_iso("lm.edited_at")} END,
    'recalled', lm.recalled, 'data', lm.data,
    'sender_style', json_build_object(
        'bubble', {_sql_style_value("bubble")}, 'name_color', {_sql_style_value("name_color")},
        'vip', coalesce(lm.sender_style -> 'vip' = 'true'::jsonb, false)))"""

# _unread_count_subquery's rule, for the statement below (the same three index probes; CASE
# evaluates none of them for a conversation read to its end).
_SQL_UNREAD = """CASE WHEN c.last_message_id > greatest(m.last_read_id, m.history_from_id) THEN
    c.last_seq
    - coalesce((SELECT s.seq FROM messaging_message s
                 WHERE s.conversation_id = m.conversation_id
                   AND s.id <= greatest(m.last_read_id, m.history_from_id)
                 ORDER BY s.id DESC LIMIT 1), 0)
    - (SELECT count(*) FROM messaging_message o
        WHERE o.sender_id = m.user_id AND o.conversation_id = m.conversation_id
          AND o.id > greatest(m.last_read_id, m.history_from_id))
    - (SELECT count(*) FROM messaging_message r
        WHERE r.recalled AND r.conversation_id = m.conversation_id
          AND r.id > greatest(m.last_read_id, m.history_from_id)
          AND (r.sender_id <> m.user_id OR r.sender_id IS NULL))
    ELSE 0 END"""

# The direct peer is a lateral subquery kept apart (OFFSET 0) so that its `c.kind = 'direct'`
# gates it: a group's members are not visited (joined plainly, every member of every group was
# read and thrown away, 4,700 rows for the busiest person's list).
_SQL_LIST = f"""
SELECT coalesce(json_agg(json_build_object(
    'id', c.id,
    'kind', c.kind,
    'title', CASE WHEN c.kind = 'direct' THEN coalesce(p.display_name, '') ELSE c.title END,
    'members_count', c.members_count,
    'unread_count', {_SQL_UNREAD},
    'last_message', CASE WHEN lm.id IS NULL THEN NULL ELSE {_SQL_MESSAGE} END,
    'my_role', m.role,
    'muted', m.muted,
    'last_read_id', m.last_read_id,
    'peer', p.number,
    'peer_last_read_id', CASE WHEN p.read_receipts THEN p.last_read_id END,
    'created_at', {_sql_iso("c.created_at")}
) ORDER BY c.last_activity DESC, c.id DESC), '[]')::text
  FROM messaging_membership m
  JOIN messaging_conversation c ON c.id = m.conversation_id
  LEFT JOIN LATERAL (
        SELECT pu.number, pu.display_name, pu.read_receipts, pm.last_read_id
          FROM messaging_membership pm JOIN accounts_user pu ON pu.id = pm.user_id
         WHERE c.kind = 'direct' AND pm.conversation_id = c.id AND pm.user_id <> m.user_id
        OFFSET 0) p ON true
  LEFT JOIN messaging_message lm ON c.last_message_id > m.history_from_id AND lm.id = c.last_message_id
  LEFT JOIN accounts_user su ON su.id = lm.sender_id
 WHERE m.user_id = %s
"""  # noqa: S608 - built from constants only; the user id is a bound parameter


def conversation_list_json(user: User) -> str:
    """`GET conversations` as the JSON text of conversation_list_payload.

    On PostgreSQL one statement builds it (memberships, unread counts, conversations, last
    messages with their senders, direct peers), rendered by json_build_object. Elsewhere (SQLite)
    conversation_list_payload, encoded as the API's renderer does."""
    if connection.vendor != "postgresql":
        return JSONRenderer().render(conversation_list_payload(user)).decode()
    with connection.cursor() as cursor:
        cursor.execute(_SQL_LIST, [user.pk])
        return cursor.fetchone()[0]


# A history page (core.pagination's rules: `before` or no cursor, the `limit` messages just below
# it; `after`, the `limit` just above; either way ascending, and whether there are more) with the
# member's history start, in one statement; the messages rendered as _SQL_MESSAGE.
_SQL_HISTORY_PAGE = f"""
WITH member AS (
    SELECT history_from_id FROM messaging_membership
     WHERE user_id = %(user)s AND conversation_id = %(conversation)s
), picked AS (
    SELECT m.*, row_number() OVER (ORDER BY m.id {{direction}}) AS n
      FROM (SELECT lm.* FROM messaging_message lm, member
             WHERE lm.conversation_id = %(conversation)s AND lm.id > member.history_from_id
               AND lm.id < %(before)s AND lm.id > %(after)s
             ORDER BY lm.id {{direction}} LIMIT %(limit)s + 1) m
)
SELECT (SELECT count(*) FROM member),
       json_build_object(
           'results', coalesce(json_agg({_SQL_MESSAGE} ORDER BY lm.id)
                                   FILTER (WHERE lm.n <= %(limit)s), '[]'),
           'has_more', count(*) > %(limit)s)::text
  FROM picked lm LEFT JOIN accounts_user su ON su.id = lm.sender_id
"""  # noqa: S608 - built from constants only; every value is a bound parameter
_SQL_HISTORY_PAGE_BACKWARD = _SQL_HISTORY_PAGE.replace("{direction}", "DESC")
_SQL_HISTORY_PAGE_FORWARD = _SQL_HISTORY_PAGE.replace("{direction}", "ASC")
_MAX_ID = 2**63 - 1


def history_page_in_database() -> bool:
    """Whether message_history_page_json serves history pages here (PostgreSQL); elsewhere
    message_history_rows with core.pagination does."""
    return connection.vendor == "postgresql"


def message_history_page_json(
    *, user: User, conversation_id: int, limit: int, before: int | None = None, after: int | None = None
) -> str:
    """A history page `{"results": [...], "has_more": bool}` as JSON text, built by PostgreSQL in
    one statement (a page of 50 built as model instances and rendered in Python cost most of its
    request; docs/PERFORMANCE.md, Reads). The same page as message_history_rows paginated by
    core.pagination and rendered by message_rows_payload (tests/messaging/test_reads_parity.py).
    ConversationNotFound for a non-member."""
    sql = _SQL_HISTORY_PAGE_FORWARD if after is not None else _SQL_HISTORY_PAGE_BACKWARD
    params = {
        "user": user.pk,
        "conversation": conversation_id,
        "limit": limit,
        "before": _MAX_ID if before is None else before,
        "after": -1 if after is None else after,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found, page = cursor.fetchone()
    if not found:
        raise ConversationNotFound()
    return page


def conversation_members(*, user: User, conversation_id: int) -> tuple[list[Membership], dict]:
    """(memberships by role then joining order, the user serializer's context)."""
    membership_get(user=user, conversation_id=conversation_id)
    order = {Membership.Role.OWNER: 0, Membership.Role.ADMIN: 1, Membership.Role.MEMBER: 2}
    members = list(Membership.objects.filter(conversation_id=conversation_id).select_related("user"))
    members.sort(key=lambda m: (order[m.role], m.joined_at, m.pk))
    return members, user_render_context(user, [m.user for m in members])


def message_history(*, user: User, conversation_id: int) -> QuerySet[Message]:
    """The conversation's messages the user sees (said since they last joined), or NotFound."""
    membership = membership_get(user=user, conversation_id=conversation_id)
    return _for_rendering(
        Message.objects.filter(conversation_id=conversation_id, id__gt=membership.history_from_id)
    )


def message_history_rows(*, user: User, conversation_id: int) -> QuerySet:
    """message_history as MESSAGE_ROW tuples (messaging.rendering.message_rows_payload renders
    them), for history pages: no model instances, one membership probe."""
    history_from_id = (
        Membership.objects.filter(user_id=user.pk, conversation_id=conversation_id)
        .values_list("history_from_id", flat=True)
        .first()
    )
    if history_from_id is None:
        raise ConversationNotFound()
    return Message.objects.filter(conversation_id=conversation_id, id__gt=history_from_id).values_list(
        *MESSAGE_ROW
    )


def message_search(*, user: User, query: str, conversation_id: int | None = None) -> QuerySet[Message]:
    """Case-insensitive substring search over the messages the user sees (Chinese included).

    `icontains` is `UPPER(body) LIKE UPPER('%q%')` on PostgreSQL, which the GIN trigram index on
    UPPER(body) serves for queries of 3+ characters (messaging migration 0002); shorter queries
    scan, which stays acceptable within one user's conversations. Recalled messages have no body.
    """
    if conversation_id is not None:
        membership = membership_get(user=user, conversation_id=conversation_id)
        scope = Message.objects.filter(conversation_id=conversation_id, id__gt=membership.history_from_id)
    else:
        scope = messages_visible_to(user)
    return scope.filter(recalled=False, body__icontains=query).select_related("sender")
