"""Every write to messages and read markers: the one write path of the chat.

`message_send` is used by the HTTP API, the socket, and by server-side features (red packets,
gifts, system messages, with `trusted=True`). It stores the message and, after commit, sends
`message.new` to each member's user group (never one group per conversation), so a member
removed a moment ago gets nothing.

Invariants:
- Sends into one conversation are serialised by its row lock (FOR NO KEY UPDATE, which does not
  block the foreign-key checks of other inserts), which makes `seq` gapless and means that within
  one conversation id order is commit order.
- A send costs a fixed number of queries whatever the group's size (one query reads all member
  ids; the event is rendered once).
- On PostgreSQL each message and each edit or recall records its transaction id and snapshot
  xmin for `sync` (see messaging.models and messaging.sync).
- On PostgreSQL a send is one call of the `messaging_send` function (its SQL is
  messaging/sql/messaging_send.sql, installed by migration 0003), elsewhere the ORM steps of
  `_store_message_orm`: the two must agree, and tests/messaging/test_send_parity.py runs one table
  of cases through both on PostgreSQL. A change to the SQL file needs a new migration that runs it
  again (CREATE OR REPLACE).
- Read markers never move backwards.
"""

import contextlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import Block, Friendship, User
from core import metrics
from core.exceptions import Forbidden, InvalidInput
from core.input_rules import reject_unstorable
from messaging.content_rules import content_rules_check
from messaging.errors import (
    Blocked,
    BodyTooLong,
    ConversationNotFound,
    MessageNotFound,
    NotEditable,
    NotFriends,
    NotRecallable,
    RecallWindowPassed,
    SenderGone,
)
from messaging.models import BODY_MAX_LENGTH, Conversation, Membership, Message
from messaging.realtime import send_event_on_commit
from messaging.rendering import NO_STYLE, message_payload
from messaging.selectors import member_ids_of, member_ids_seeing

CLIENT_KINDS = frozenset({Message.Kind.TEXT, Message.Kind.STICKER})
RECALL_WINDOW = timedelta(minutes=2)
CLIENT_ID_MAX_LENGTH = 64
STICKER_SKU_MAX_LENGTH = 64
STICKER_NAME_MAX_LENGTH = 64
STICKER_ID_MAX = 2**63 - 1

_TXID_SQL = "pg_current_xact_id()::text::bigint"
_XMIN_SQL = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
_SNAPSHOT_SQL = "pg_current_snapshot()::text"


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


def _with_transaction_ids(queryset: QuerySet) -> QuerySet:
    """Annotate `_txid`, `_snapshot` and `_xmin` (this transaction's id, the statement's snapshot
    and its xmin) on PostgreSQL, so they come with a query the write needs anyway."""
    if not _on_postgres():
        return queryset
    # Constant SQL, no parameters.
    return queryset.annotate(
        _txid=RawSQL(_TXID_SQL, ()),  # noqa: S611
        _xmin=RawSQL(_XMIN_SQL, ()),  # noqa: S611
        _snapshot=RawSQL(_SNAPSHOT_SQL, ()),  # noqa: S611
    )


# --- Validation -----------------------------------------------------------------------------------


def _clean_body(body: Any, *, required: bool) -> str:
    if not isinstance(body, str):
        raise InvalidInput(fields={"body": ["Must be a string."]})
    reject_unstorable({"body": body})
    trimmed = body.strip()
    if required and not trimmed:
        raise InvalidInput("A message needs some text.", fields={"body": ["This field may not be blank."]})
    if len(trimmed) > BODY_MAX_LENGTH:
        raise BodyTooLong(
            "A message holds at most 4000 characters.",
            fields={"body": [f"At most {BODY_MAX_LENGTH} characters."]},
        )
    return body


def _clean_sticker_data(data: Any) -> dict:
    """Exactly `{"sku": pack_sku, "sticker": sticker_id}` (CONTRACT section 6), bounded: the id is
    a non-negative integer within 64 bits (msgpack, which publishes events, packs no more) or a
    short string."""
    problem = ['A sticker needs exactly {"sku": pack_sku, "sticker": sticker_id}.']
    if not isinstance(data, dict) or set(data) != {"sku", "sticker"}:
        raise InvalidInput(fields={"data": problem})
    sku, sticker = data["sku"], data["sticker"]
    if not isinstance(sku, str) or not 1 <= len(sku) <= STICKER_SKU_MAX_LENGTH:
        raise InvalidInput(fields={"data": [f"`sku`: a string of 1-{STICKER_SKU_MAX_LENGTH} characters."]})
    if isinstance(sticker, bool) or not (
        (isinstance(sticker, int) and 0 <= sticker <= STICKER_ID_MAX)
        or (isinstance(sticker, str) and 1 <= len(sticker) <= STICKER_NAME_MAX_LENGTH)
    ):
        raise InvalidInput(
            fields={
                "data": [
                    "`sticker`: a non-negative 64-bit integer or a string of "
                    f"1-{STICKER_NAME_MAX_LENGTH} characters."
                ]
            }
        )
    return {"sku": sku, "sticker": sticker}


def _clean_client_data(kind: str, data: Any) -> dict:
    """A client sends `data` only where its kind defines it (CONTRACT section 4): text takes none
    (absent or `{}`), a sticker exactly its pack and sticker. Anything else is refused here, before
    it is stored: free-form client JSON could hold what cannot be published (integers past 64
    bits) or stored."""
    if kind == Message.Kind.STICKER:
        return _clean_sticker_data(data)
    if data is None or data == {}:
        return {}
    raise InvalidInput(fields={"data": [f"A {kind} message takes no data."]})


def _clean_content(kind: Any, body: Any, data: Any, *, trusted: bool) -> tuple[str, str, dict]:
    """Kind, body and data of a send. Clients (not `trusted`) send text or stickers with the data
    their kind defines; server-side callers any kind with free-form data. Nothing may hold what
    cannot be stored or published (core.input_rules: U+0000, lone surrogates, integers past 64
    bits): the socket and server callers reach here without the API's parser."""
    if kind not in Message.Kind.values or (not trusted and kind not in CLIENT_KINDS):
        raise InvalidInput(
            "Only text and sticker messages can be sent.", fields={"kind": ["Use text or sticker."]}
        )
    if trusted:
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise InvalidInput(fields={"data": ["Must be a JSON object."]})
    else:
        data = _clean_client_data(kind, data)
    reject_unstorable({"data": data})
    body = _clean_body(body, required=kind == Message.Kind.TEXT)
    # Ownership of a sticker's pack is the store's check (messaging.content_rules).
    return kind, body, data


def _clean_client_id(client_id: Any) -> str | None:
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= CLIENT_ID_MAX_LENGTH:
        raise InvalidInput(fields={"client_id": [f"A string of 1-{CLIENT_ID_MAX_LENGTH} characters."]})
    reject_unstorable({"client_id": client_id})
    return client_id


def direct_peer_check(sender: User, peer_id: int) -> None:
    """Blocked either way: Blocked; else not friends: NotFriends (blocked wins). One query: it
    runs on every direct message."""
    blocked = Block.objects.filter(blocker_id__in=(sender.pk, peer_id), blocked_id__in=(sender.pk, peer_id))
    friends = Friendship.objects.filter(user_id=sender.pk, friend_id=peer_id)
    is_blocked, is_friend = (
        User.objects.filter(pk=sender.pk).values_list(Exists(blocked), Exists(friends)).get()
    )
    if is_blocked:
        raise Blocked()
    if not is_friend:
        raise NotFriends("You can only message friends.")


def _existing_by_client_id(sender: User, client_id: str) -> Message | None:
    return Message.objects.select_related("sender").filter(sender_id=sender.pk, client_id=client_id).first()


# --- Sending ------------------------------------------------------------------------------------------


def _check_sender(
    sender: User, kind: str, conversation_kind: str, member_ids: list[int], trusted: bool
) -> None:
    system = trusted and kind == Message.Kind.SYSTEM
    if sender.pk not in member_ids and not system:
        raise ConversationNotFound()
    if conversation_kind == Conversation.Kind.DIRECT and not system:
        direct_peer_check(sender, next((uid for uid in member_ids if uid != sender.pk), sender.pk))


def _sender_user(sender: User | int) -> tuple[User, User]:
    """The sender as given (or read, when given by id), checked to be active in the database (as
    the PostgreSQL function does), and the row as read now (its style columns are current)."""
    sender_id = sender if isinstance(sender, int) else sender.pk
    user = User.objects.filter(pk=sender_id, is_active=True).first()
    if user is None:
        raise SenderGone()
    return (user if isinstance(sender, int) else sender), user


def _sender_style(row: User, kind: str, created_at: datetime) -> dict[str, Any]:
    """The style stamped on a message: the sender's bubble and name colours and whether their VIP
    time runs at `created_at`, from the row the send read (the PostgreSQL function builds the
    same object); a system message carries none."""
    if kind == Message.Kind.SYSTEM:
        return dict(NO_STYLE)
    return {
        "bubble": row.chat_bubble or None,
        "name_color": row.chat_name_color or None,
        "vip": row.vip_until is not None and row.vip_until > created_at,
    }


def _store_message_orm(
    sender: User | int,
    conversation_id: int,
    kind: str,
    body: str,
    data: dict,
    client_id: str | None,
    trusted: bool,
) -> tuple[Message, list[int]] | Message:
    """Check the sender is active, lock the conversation, check the sender may send there, insert
    the next message of the conversation and move the conversation's last message. Runs inside
    message_send's transaction. Returns the message and the member ids, or the first message of a
    repeated client_id. The same contract as `_store_message_postgres` (the parity test runs both)."""
    sender, sender_row = _sender_user(sender)
    conversation = (
        _with_transaction_ids(Conversation.objects.select_for_update(no_key=True))
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise ConversationNotFound()
    member_ids = member_ids_of(conversation.pk)
    _check_sender(sender, kind, conversation.kind, member_ids, trusted)
    created_at = timezone.now()
    message = Message(
        conversation=conversation,
        seq=conversation.last_seq + 1,
        sender=sender,
        kind=kind,
        body=body,
        client_id=client_id,
        data=data,
        sender_style=_sender_style(sender_row, kind, created_at),
        created_at=created_at,
        txid=getattr(conversation, "_txid", None),
        snapshot_xmin=getattr(conversation, "_xmin", None),
        snapshot=getattr(conversation, "_snapshot", ""),
    )
    if client_id is None:
        message.save()
    else:
        try:
            with transaction.atomic():
                message.save()
        except IntegrityError:
            existing = _existing_by_client_id(sender, client_id)
            if existing is None:
                raise
            return existing
    Conversation.objects.filter(pk=conversation.pk).update(
        last_seq=message.seq, last_message_id=message.pk, last_activity=message.created_at
    )
    return message, member_ids


# On PostgreSQL the same steps are one call of the `messaging_send` function
# (messaging/sql/messaging_send.sql, installed by migration 0003): the hot path of every send,
# where the ORM's own work and seven round trips measured several ms of CPU per message. Statuses
# other than ok and duplicate are the errors below.
_SEND_SQL = "SELECT * FROM messaging_send(%s, %s, %s, %s, %s, %s::jsonb, %s, %s)"
_SEND_ERRORS = {
    "sender_gone": SenderGone,
    "not_found": ConversationNotFound,
    "blocked": Blocked,
    "not_friends": lambda: NotFriends("You can only message friends."),
}


def _store_message_postgres(
    sender: User | int,
    conversation_id: int,
    kind: str,
    body: str,
    data: dict,
    client_id: str | None,
    trusted: bool,
) -> tuple[Message, list[int]] | Message:
    """_store_message_orm's contract in one statement (PostgreSQL); with autocommit it is its own
    transaction, inside an outer one it joins it."""
    sender_id = sender if isinstance(sender, int) else sender.pk
    created_at = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _SEND_SQL,
            [sender_id, conversation_id, kind, body, client_id, json.dumps(data), created_at, trusted],
        )
        status, message_id, seq, member_ids, number, display_name, style = cursor.fetchone()
    if status == "duplicate":  # the sender's client_id is taken: the first message answers
        if message_id is None:  # pragma: no cover - only under REPEATABLE READ, which we never use
            raise IntegrityError("The client_id is taken by a message this transaction cannot see.")
        return Message.objects.select_related("sender").get(pk=message_id)
    if status != "ok":
        raise _SEND_ERRORS[status]()
    if isinstance(sender, int):
        sender = User(pk=sender_id, number=number, display_name=display_name, is_active=True)
    message = Message(
        pk=message_id,
        conversation_id=conversation_id,
        seq=seq,
        sender=sender,
        kind=kind,
        body=body,
        client_id=client_id,
        data=data,
        # Django's psycopg setup hands jsonb over as text (JSONField decodes it).
        sender_style=json.loads(style) if isinstance(style, str) else style,
        created_at=created_at,
    )
    message._state.adding = False
    return message, member_ids


def message_send(
    *,
    sender: User | int,
    conversation_id: int,
    body: Any = "",
    kind: Any = Message.Kind.TEXT,
    data: Any = None,
    client_id: Any = None,
    trusted: bool = False,
) -> tuple[Message, bool]:
    """Store a message and fan it out after commit. Returns (message, created).

    `trusted` is for server-side callers: any kind and free-form `data`; a `system` message may
    name a sender who is no longer a member. A repeated `client_id` from the same sender returns
    the first message with created=False (also when two sends race on it). `sender` may be only
    the user's id (the socket knows no more): the sender is then read with the send itself, and a
    deactivated one is refused with SenderGone.
    """
    kind, body, data = _clean_content(kind, body, data, trusted=trusted)
    client_id = _clean_client_id(client_id)
    if not trusted:
        # Whether the sender may use what the message refers to (the store: sticker packs).
        content_rules_check(kind=kind, sender_id=sender if isinstance(sender, int) else sender.pk, data=data)
    # A repeated client_id is found by its unique index at the insert below (no lookup first:
    # every send would pay for it).
    if _on_postgres():
        # In autocommit the one statement is its own transaction; inside a caller's transaction a
        # savepoint undoes a refused send (and its lock) and leaves the caller's transaction usable.
        with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
            stored = _store_message_postgres(sender, conversation_id, kind, body, data, client_id, trusted)
    else:
        with transaction.atomic():
            stored = _store_message_orm(sender, conversation_id, kind, body, data, client_id, trusted)
    if isinstance(stored, Message):  # a repeated client_id: the first message
        return stored, False
    message, member_ids = stored
    # Sent at once in autocommit; after the caller's transaction commits inside one.
    send_event_on_commit(member_ids, {"type": "message.new", "message": message_payload(message)})
    transaction.on_commit(metrics.messages_sent.labels(message.kind).inc)
    return message, True


# --- Edits and recalls ---------------------------------------------------------------------------------


def _message_for_change(user: User, message_id: int) -> tuple[Message, Membership]:
    """Lock the message (annotated with this transaction's id) and check the user may see it: a
    member since before it was said (messaging.selectors)."""
    message = (
        _with_transaction_ids(Message.objects.select_for_update(no_key=True, of=("self",)))
        .select_related("sender")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        raise MessageNotFound()
    membership = (
        Membership.objects.select_related("conversation")
        .filter(user_id=user.pk, conversation_id=message.conversation_id, history_from_id__lt=message.pk)
        .first()
    )
    if membership is None:  # not a member, or the message was said before they (last) joined
        raise MessageNotFound()
    return message, membership


def _save_change(message: Message, event_type: str, fields: list[str]) -> None:
    message.changed_at = timezone.now()
    message.change_txid = getattr(message, "_txid", None)
    message.save(update_fields=[*fields, "changed_at", "change_txid"])
    # Only to members who see the message: not to those who joined after it was said.
    send_event_on_commit(
        member_ids_seeing(message.conversation_id, message.pk),
        {"type": event_type, "message": message_payload(message)},
    )


def message_edit(*, user: User, message_id: int, body: Any) -> Message:
    """The sender edits their own text message; members get `message.edited`. An edit follows the
    sending rules of the conversation: in a direct one, a blocked (either way) or unfriended peer
    cannot edit (Blocked wins over NotFriends), or a block would not stop text reaching the
    blocker's sockets."""
    body = _clean_body(body, required=True)
    with transaction.atomic():
        message, membership = _message_for_change(user, message_id)
        if message.sender_id != user.pk:
            raise Forbidden("You can only edit your own messages.")
        if membership.conversation.kind == Conversation.Kind.DIRECT:
            direct_peer_check(user, _direct_peer_id(membership.conversation_id, user.pk))
        if message.kind != Message.Kind.TEXT or message.recalled:
            raise NotEditable()
        message.body = body
        message.edited_at = timezone.now()
        _save_change(message, "message.edited", ["body", "edited_at"])
    return message


def _direct_peer_id(conversation_id: int, user_id: int) -> int:
    peer = Membership.objects.filter(conversation_id=conversation_id).exclude(user_id=user_id).first()
    return peer.user_id if peer is not None else user_id


def message_recall(*, user: User, message_id: int) -> Message:
    """Recall: the sender within 2 minutes, a group's owner or admins any time. The message stays,
    with `recalled` set and its body and data emptied; members get `message.recalled`. A red
    packet's message is never recalled (NotRecallable): emptying its data would orphan the
    packet, whose coins members are claiming. A blocked
    or unfriended sender may still recall in a direct conversation: a recall removes content."""
    with transaction.atomic():
        message, membership = _message_for_change(user, message_id)
        if message.recalled:
            return message
        if message.kind == Message.Kind.RED_PACKET:
            raise NotRecallable()
        is_group_manager = membership.conversation.kind == Conversation.Kind.GROUP and membership.can_manage
        if not is_group_manager:
            if message.sender_id != user.pk:
                raise Forbidden("You can only recall your own messages.")
            if timezone.now() - message.created_at > RECALL_WINDOW:
                raise RecallWindowPassed()
        message.recalled = True
        message.recalled_at = timezone.now()
        message.body = ""
        message.data = {}
        _save_change(message, "message.recalled", ["recalled", "recalled_at", "body", "data"])
    return message


# --- Read markers -------------------------------------------------------------------------------------


def conversation_read(*, user: User, conversation_id: int, up_to: int) -> int:
    """Move the user's read marker forward to `up_to` (clamped to the conversation's last message;
    never backwards). Returns the marker. When it moved, the reader's sockets get `read`, and so do
    the other members if the reader's `read_receipts` is on."""
    if isinstance(up_to, bool) or not isinstance(up_to, int) or up_to < 0:
        raise InvalidInput(fields={"up_to": ["A message id."]})
    with transaction.atomic():
        membership = (
            Membership.objects.select_related("conversation")
            .filter(user_id=user.pk, conversation_id=conversation_id)
            .first()
        )
        if membership is None:
            raise ConversationNotFound()
        up_to = min(up_to, membership.conversation.last_message_id)
        moved = Membership.objects.filter(pk=membership.pk, last_read_id__lt=up_to).update(last_read_id=up_to)
        if not moved:
            return max(membership.last_read_id, up_to)
        recipients = member_ids_of(conversation_id) if user.read_receipts else [user.pk]
        send_event_on_commit(
            recipients,
            {"type": "read", "conversation": conversation_id, "user": user.number, "up_to": up_to},
        )
    return up_to
