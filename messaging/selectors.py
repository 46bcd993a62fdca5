"""Reads of conversations, members and messages, always as seen by one user.

The fetch-with-permission helper `membership_get` raises the same NotFound as for something that
does not exist: a non-member cannot tell a conversation exists.

A member sees a conversation's messages from the moment they (last) joined: those with id >
`Membership.history_from_id` (CONTRACT section 4). History, search, sync, unread counts and the
last message all apply it; so do edits, recalls and their events (messaging.services).
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest

from accounts.models import User
from accounts.selectors import user_render_context
from messaging.errors import ConversationNotFound
from messaging.models import Conversation, Membership, Message
from messaging.rendering import iso, message_payload


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


def conversation_payload(view: ConversationView) -> dict[str, Any]:
    conversation = view.membership.conversation
    peer_last_read_id = None
    if conversation.kind == Conversation.Kind.DIRECT:
        title = view.other_user.display_name if view.other_user else ""
        peer = view.other_user.number if view.other_user else None
        # As the socket's `read` events: only from someone whose read receipts are on.
        if view.other_user is not None and view.other_user.read_receipts:
            peer_last_read_id = view.peer_last_read_id
    else:
        title, peer = conversation.title, None
    return {
        "id": conversation.pk,
        "kind": conversation.kind,
        "title": title,
        "members_count": conversation.members_count,
        "unread_count": view.unread_count,
        "last_message": message_payload(view.last_message) if view.last_message else None,
        "my_role": view.membership.role,
        "muted": view.membership.muted,
        "last_read_id": view.membership.last_read_id,
        "peer": peer,
        "peer_last_read_id": peer_last_read_id,
        "created_at": iso(conversation.created_at),
    }


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
