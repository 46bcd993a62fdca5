"""coins.services._transfer_parties reads in one query what accounts.selectors.user_get_by_number,
are_friends and the wallets say in several: the two must agree for every kind of recipient."""

import pytest

from accounts.models import Friendship
from accounts.selectors import are_friends, user_get_by_number
from coins.ledger import wallet_for
from coins.models import Account
from coins.services import _transfer_parties
from core.exceptions import NotFound
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def reference(sender, number: int) -> tuple[int, bool, int | None, int | None] | type[NotFound]:
    try:
        recipient = user_get_by_number(number)
    except NotFound:
        return NotFound
    wallet = {a.user_id: a.pk for a in Account.objects.filter(user__in=[sender, recipient])}
    return recipient.pk, are_friends(sender, recipient), wallet.get(sender.pk), wallet.get(recipient.pk)


def one_query(sender, number: int) -> tuple[int, bool, int | None, int | None] | type[NotFound]:
    try:
        return _transfer_parties(sender, number)
    except NotFound:
        return NotFound


def test_the_one_query_agrees_with_the_selectors_for_every_kind_of_recipient() -> None:
    sender = UserFactory()
    friend, with_wallet, one_sided, stranger, inactive = UserFactory.create_batch(5)
    Friendship.objects.create(user=sender, friend=friend)
    Friendship.objects.create(user=friend, friend=sender)
    Friendship.objects.create(user=sender, friend=with_wallet)
    Friendship.objects.create(user=one_sided, friend=sender)  # they count the sender; not the reverse
    Friendship.objects.create(user=sender, friend=inactive)
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    wallet_for(with_wallet)
    cases = {
        "friend without a wallet": friend.number,
        "friend with a wallet": with_wallet.number,
        "friend only on their side": one_sided.number,
        "stranger": stranger.number,
        "inactive friend": inactive.number,
        "no such number": max(u.number for u in (sender, friend, with_wallet, one_sided, stranger, inactive))
        + 1000,
    }

    for wallets in ("sender without a wallet", "sender with a wallet"):
        if wallets == "sender with a wallet":
            wallet_for(sender)
        for name, number in cases.items():
            assert one_query(sender, number) == reference(sender, number), (wallets, name)

    assert one_query(sender, inactive.number) is NotFound
    assert one_query(sender, one_sided.number)[1] is False
