"""The people and things the authorization matrix calls every endpoint about.

One group conversation `group` owned by `owner`, with `member` still in it, `left` who left it
and `removed` whom the owner removed; `stranger` shares nothing with anyone. Messages said in the
group before and after the two former members went, a red packet the member sent there, the
owner's top-up, VIP membership, block and incoming friend request, and coins for everyone.
"""

from dataclasses import dataclass

from accounts.models import FriendRequest, User
from accounts.services import block_create
from coins.models import Topup
from messaging.conversations import conversation_direct_open, conversation_group_create, member_remove
from messaging.models import Conversation, Message
from messaging.services import message_send
from redpackets.models import RedPacket
from redpackets.services import red_packet_send
from store.demo import seed_store_catalog
from tests.coins.helpers import grant
from tests.coins.payment_support import make_package, make_topup
from tests.factories import FriendRequestFactory, UserFactory, make_friends
from tests.store.helpers import buy

ACTORS = ("anonymous", "stranger", "left", "removed", "member", "owner")
# Everyone who is not (any more) in the group.
OUTSIDERS = ("stranger", "left", "removed")
BEFORE_TEXT = "said before they went"
AFTER_TEXT = "said after they went"
COINS_EACH = 1000
OWNERS_BUBBLE = "bubble-ocean"


@dataclass
class World:
    owner: User
    member: User
    left: User
    removed: User
    stranger: User
    requester: User  # sent the owner a friend request
    blocked: User  # blocked by the owner
    newcomer: User  # the owner's friend, in no group yet
    nobody: User  # related to no one: a target for requests and blocks
    group: Conversation
    direct: Conversation  # owner and member
    before: Message
    after: Message
    red_packet: RedPacket
    topup: Topup
    friend_request: FriendRequest

    def user(self, actor: str) -> User | None:
        return None if actor == "anonymous" else getattr(self, actor)


def build_world() -> World:
    make = UserFactory
    owner, member, left, removed = make(), make(), make(), make()
    stranger, requester, blocked, newcomer, nobody = make(), make(), make(), make(), make()
    for friend in (member, left, removed, newcomer):
        make_friends(owner, friend)
    make_friends(member, left)  # stays friends with a member after leaving: still no way back in
    group = conversation_group_create(
        user=owner, title="Team", member_numbers=[member.number, left.number, removed.number]
    )
    direct, _ = conversation_direct_open(user=owner, number=member.number)
    before, _ = message_send(sender=owner, conversation_id=group.pk, body=BEFORE_TEXT)
    member_remove(user=left, conversation_id=group.pk, number=left.number)
    member_remove(user=owner, conversation_id=group.pk, number=removed.number)
    after, _ = message_send(sender=owner, conversation_id=group.pk, body=AFTER_TEXT)
    everyone = (owner, member, left, removed, stranger)
    for person in everyone:
        grant(person, COINS_EACH)
    red_packet = red_packet_send(sender=member, conversation_id=group.pk, total=10, count=1, mode="equal")
    seed_store_catalog()
    buy(owner, "vip-month")
    buy(owner, OWNERS_BUBBLE)
    for person in everyone:
        buy(person, "gift-rose")
    make_package()
    topup = make_topup(owner)
    block_create(user=owner, number=blocked.number)
    friend_request = FriendRequestFactory(from_user=requester, to_user=owner)
    return World(
        owner=owner,
        member=member,
        left=left,
        removed=removed,
        stranger=stranger,
        requester=requester,
        blocked=blocked,
        newcomer=newcomer,
        nobody=nobody,
        group=group,
        direct=direct,
        before=before,
        after=after,
        red_packet=red_packet,
        topup=topup,
        friend_request=friend_request,
    )
