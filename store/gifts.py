"""Gifts given in chat from the sender's inventory: one gift used, one `gift` message.

Invariants:
- a gift sent is one `gift` message and one fewer of that gift in the sender's inventory, in one
  database transaction: both or neither;
- the sender's entitlement row of the gift is locked first (the store's order: entitlement ->
  conversation, which the message send locks), so two sends racing for the last one use it once
  and the other is 403 not_owned;
- a repeated `client_id` from the same sender answers the first message and uses nothing (also
  when the repeats race: the message's unique (sender, client_id) settles it, and only the send
  that created the message uses a gift);
- clients cannot send `gift` messages themselves (messaging refuses the kind): this is the one way
  a person's gift reaches a conversation, next to the message a gift purchase sends.
A gift used in chat cannot be refunded any more (store.operator_actions: used up).
"""

from typing import Any

from django.db import transaction

from accounts.models import User
from core.exceptions import InvalidInput
from messaging.models import Message
from messaging.selectors import membership_get
from messaging.services import message_send
from store.errors import NotOwned
from store.models import Item
from store.services import entitlement_locked, gift_message_data


def _gift_item(sku: Any) -> Item:
    if not isinstance(sku, str) or not sku:
        raise InvalidInput(fields={"sku": ["A gift's sku is required."]})
    item = Item.objects.filter(sku=sku).first()
    if item is None:
        raise NotOwned("You have no such gift.")
    if item.kind != Item.Kind.GIFT:
        raise InvalidInput("Only gifts can be given in chat.", fields={"sku": ["Not a gift."]})
    return item


def gift_send(*, sender: User, conversation_id: int, sku: Any, client_id: Any = None) -> tuple[Message, bool]:
    """Give one of the sender's gifts `sku` in a conversation: a `gift` message (pushed to the
    members like any message) and one fewer in the inventory. Returns (message, created); a
    repeated `client_id` returns the first message with created=False and uses nothing.

    Raises ConversationNotFound (not a member), InvalidInput (sku missing or not a gift, a bad
    client_id), NotOwned (no such gift, or none left), Blocked / NotFriends (a direct
    conversation the sender may no longer write in). Nothing is written when it raises."""
    item = _gift_item(sku)
    membership_get(user=sender, conversation_id=conversation_id)
    with transaction.atomic():
        entitlement = entitlement_locked(user_id=sender.pk, item_id=item.pk)
        if isinstance(client_id, str):
            # Under the lock a repeat of this send has committed: answer it before "none left".
            existing = Message.objects.select_related("sender").filter(
                sender_id=sender.pk, client_id=client_id
            )
            if (first := existing.first()) is not None:
                return first, False
        if entitlement.quantity < 1:
            raise NotOwned(f"You have no {item.name} left; buy one in the store.")
        message, created = message_send(
            sender=sender,
            conversation_id=conversation_id,
            kind=Message.Kind.GIFT,
            body=item.name,
            data=gift_message_data(item, quantity=1, purchase_id=None),
            client_id=client_id,
            trusted=True,
        )
        if created:
            entitlement.quantity -= 1
            entitlement.save(update_fields=["quantity", "updated_at"])
    return message, created
