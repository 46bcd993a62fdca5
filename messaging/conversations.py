"""Every write to conversations and their members: direct conversations, groups, roles, mutes.

Invariants:
- One direct conversation per pair of people (unique `direct_key`); opening it concurrently
  returns the same conversation to both.
- Member changes of a group run under the conversation's row lock, so `members_count` and the
  500-member limit hold under concurrency, and a group always has exactly one owner while it has
  members (the owner leaving hands the group to the longest-serving admin, else member).
- A member added later sees the messages from the moment they joined (CONTRACT section 4):
  `history_from_id` and the read marker start at the conversation's last message, read under the
  conversation's row lock, which every send takes too (so no message slips in between). Founding
  members and both people of a direct conversation start at 0.
- Events: `conversation.new` to people who gain a conversation, `conversation.left` to people who
  lose one (they get nothing else from it from that moment).
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import User
from accounts.selectors import friend_ids_of, user_get_by_number
from core import text_rules
from core.exceptions import Forbidden, InvalidInput
from messaging.errors import ConversationNotFound, GroupFull, NotFriends, NotGroup
from messaging.models import GROUP_MAX_MEMBERS, TITLE_MAX_LENGTH, Conversation, Membership
from messaging.realtime import send_event_on_commit
from messaging.selectors import ConversationView, conversation_payload, member_ids_of
from messaging.services import direct_peer_check

Role = Membership.Role


def _send_conversation_new(conversation: Conversation, memberships: list[Membership], users: dict) -> None:
    """`conversation.new` to each of `memberships`' users, rendered as each of them sees it."""
    for membership in memberships:
        membership.conversation = conversation
        other = None
        if conversation.kind == Conversation.Kind.DIRECT:
            other = next(u for uid, u in users.items() if uid != membership.user_id)
        view = ConversationView(
            membership=membership,
            unread_count=0,
            last_message=None,
            other_user=other,
        )
        send_event_on_commit(
            [membership.user_id], {"type": "conversation.new", "conversation": conversation_payload(view)}
        )


def conversation_direct_open(*, user: User, number: int) -> tuple[Conversation, bool]:
    """The one direct conversation with a friend: (conversation, created). Blocked either way:
    Blocked; not friends: NotFriends (also when it already exists)."""
    peer = user_get_by_number(number)
    if peer.pk == user.pk:
        raise InvalidInput("You cannot chat with yourself.", fields={"user": ["This is you."]})
    direct_peer_check(user, peer.pk)
    key = Conversation.direct_key_for(user.pk, peer.pk)
    existing = Conversation.objects.filter(direct_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                kind=Conversation.Kind.DIRECT, direct_key=key, created_by=user, members_count=2
            )
            memberships = Membership.objects.bulk_create(
                [
                    Membership(conversation=conversation, user=user, role=Role.MEMBER),
                    Membership(conversation=conversation, user=peer, role=Role.MEMBER),
                ]
            )
            _send_conversation_new(conversation, memberships, {user.pk: user, peer.pk: peer})
    except IntegrityError:  # the other person opened it at the same moment
        return Conversation.objects.get(direct_key=key), False
    return conversation, True


def _clean_title(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        raise InvalidInput("A group needs a title.", fields={"title": ["This field may not be blank."]})
    if len(title.strip()) > TITLE_MAX_LENGTH:
        raise InvalidInput(fields={"title": [f"At most {TITLE_MAX_LENGTH} characters."]})
    return text_rules.check_name("title", title.strip())


def _friends_by_numbers(user: User, numbers: list[int]) -> list[User]:
    """The people with these numbers, all of whom must be the user's friends (else NotFriends), in
    the order the numbers were given (they join in that order, and members are listed by it)."""
    wanted = {n for n in numbers if n != user.number}
    position = {number: i for i, number in reversed(list(enumerate(numbers)))}
    people = sorted(User.objects.filter(number__in=wanted, is_active=True), key=lambda p: position[p.number])
    friends = friend_ids_of(user, among=[p.pk for p in people])
    missing = sorted(wanted - {p.number for p in people if p.pk in friends})
    if missing:
        raise NotFriends(
            f"Only friends can be added to a group; not friends: {', '.join(map(str, missing))}."
        )
    return people


def conversation_group_create(*, user: User, title: Any, member_numbers: list[int]) -> Conversation:
    """A group owned by `user` with their friends `member_numbers` (at most 500 in all)."""
    title = _clean_title(title)
    people = _friends_by_numbers(user, member_numbers)
    if len(people) + 1 > GROUP_MAX_MEMBERS:
        raise GroupFull()
    with transaction.atomic():
        conversation = Conversation.objects.create(
            kind=Conversation.Kind.GROUP, title=title, created_by=user, members_count=len(people) + 1
        )
        memberships = Membership.objects.bulk_create(
            [Membership(conversation=conversation, user=user, role=Role.OWNER)]
            + [Membership(conversation=conversation, user=p, role=Role.MEMBER) for p in people]
        )
        _send_conversation_new(conversation, memberships, {})
    return conversation


def _locked_group_membership(user: User, conversation_id: int) -> tuple[Conversation, Membership]:
    """Lock the conversation row and return it with the user's membership (NotFound if none)."""
    conversation = Conversation.objects.select_for_update(no_key=True).filter(pk=conversation_id).first()
    membership = (
        Membership.objects.filter(conversation_id=conversation_id, user_id=user.pk).first()
        if conversation
        else None
    )
    if conversation is None or membership is None:
        raise ConversationNotFound()
    membership.conversation = conversation
    return conversation, membership


def conversation_update(*, user: User, conversation_id: int, **changes: Any) -> Membership:
    """`title` (group owner/admins) and `muted` (the caller's own flag)."""
    unknown = set(changes) - {"title", "muted"}
    if unknown:
        raise InvalidInput(fields={name: ["This field cannot be changed."] for name in sorted(unknown)})
    with transaction.atomic():
        conversation, membership = _locked_group_membership(user, conversation_id)
        if "title" in changes:
            if conversation.kind != Conversation.Kind.GROUP:
                raise NotGroup("A direct conversation is titled by the other person's name.")
            if not membership.can_manage:
                raise Forbidden("Only the group's owner and admins can rename it.")
            conversation.title = _clean_title(changes["title"])
            conversation.save(update_fields=["title"])
        if "muted" in changes:
            membership.muted = bool(changes["muted"])
            membership.save(update_fields=["muted"])
    return membership


def members_add(*, user: User, conversation_id: int, numbers: list[int]) -> list[Membership]:
    """Owner/admins add their friends; people already in the group are skipped. Returns the new
    memberships, which see the group's messages from now on (under the conversation's lock)."""
    with transaction.atomic():
        conversation, membership = _locked_group_membership(user, conversation_id)
        if conversation.kind != Conversation.Kind.GROUP:
            raise NotGroup()
        if not membership.can_manage:
            raise Forbidden("Only the group's owner and admins can add members.")
        present = set(member_ids_of(conversation.pk))
        people = [p for p in _friends_by_numbers(user, numbers) if p.pk not in present]
        if len(present) + len(people) > GROUP_MAX_MEMBERS:
            raise GroupFull()
        if not people:
            return []
        added = Membership.objects.bulk_create(
            [
                Membership(
                    conversation=conversation,
                    user=p,
                    last_read_id=conversation.last_message_id,
                    history_from_id=conversation.last_message_id,
                )
                for p in people
            ]
        )
        Conversation.objects.filter(pk=conversation.pk).update(members_count=F("members_count") + len(added))
        conversation.members_count += len(added)
        _send_conversation_new(conversation, added, {})
    return added


def member_remove(*, user: User, conversation_id: int, number: int) -> None:
    """Owner/admins remove members (admins only plain members); anyone removes themself (leaves).
    The removed person gets `conversation.left` and nothing more from the group."""
    with transaction.atomic():
        conversation, membership = _locked_group_membership(user, conversation_id)
        if conversation.kind != Conversation.Kind.GROUP:
            raise NotGroup("You cannot leave a direct conversation.")
        target = (
            membership
            if number == user.number
            else Membership.objects.filter(conversation=conversation, user__number=number).first()
        )
        if target is None:
            raise ConversationNotFound("This person is not in the group.")
        if target.pk != membership.pk:
            may = membership.role == Role.OWNER or (
                membership.role == Role.ADMIN and target.role == Role.MEMBER
            )
            if not may:
                raise Forbidden("You cannot remove this member.")
        target.delete()
        Conversation.objects.filter(pk=conversation.pk).update(members_count=F("members_count") - 1)
        if target.role == Role.OWNER:
            _hand_over_ownership(conversation)
        send_event_on_commit([target.user_id], {"type": "conversation.left", "conversation": conversation.pk})


def _hand_over_ownership(conversation: Conversation) -> None:
    rank = {Role.ADMIN: 0, Role.MEMBER: 1}
    remaining = list(Membership.objects.filter(conversation=conversation))
    if remaining:
        heir = min(remaining, key=lambda m: (rank.get(m.role, 2), m.joined_at, m.pk))
        Membership.objects.filter(pk=heir.pk).update(role=Role.OWNER)


def member_role_set(*, user: User, conversation_id: int, number: int, role: Any) -> Membership:
    """Only the owner sets roles: `admin` or `member`; `owner` hands the group over (the old owner
    becomes an admin)."""
    if role not in Role.values:
        raise InvalidInput(fields={"role": ["One of owner, admin, member."]})
    with transaction.atomic():
        conversation, membership = _locked_group_membership(user, conversation_id)
        if conversation.kind != Conversation.Kind.GROUP:
            raise NotGroup()
        target = (
            Membership.objects.select_related("user")
            .filter(conversation=conversation, user__number=number)
            .first()
        )
        if target is None:
            raise ConversationNotFound("This person is not in the group.")
        if membership.role != Role.OWNER:
            raise Forbidden("Only the group's owner can change roles.")
        if target.pk == membership.pk:
            if role != Role.OWNER:
                raise InvalidInput("Hand the group to someone else first.", fields={"role": ["You own it."]})
            return target
        if role == Role.OWNER:
            Membership.objects.filter(pk=membership.pk).update(role=Role.ADMIN)
        target.role = role
        target.save(update_fields=["role"])
    return target
