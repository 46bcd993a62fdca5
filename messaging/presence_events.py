"""Presence over sockets: online while any socket of the user is open (CONTRACT sections 3, 7).

- The first socket to open makes the user online: their online friends get `presence` (unless the
  user is invisible); the new socket gets one `presence` per online, visible friend.
- The last socket to close makes them offline, announced after OFFLINE_GRACE_SECONDS only if no
  socket came back meanwhile: a page reload does not flash offline/online to every friend.
- Events go only to the user's friends who are online (accounts.presence counts sockets in the
  shared cache, so every server process agrees).
"""

from django.core.cache import cache

from accounts.models import Presence, User
from accounts.presence import online_user_ids, socket_closed, socket_opened
from accounts.selectors import friend_ids_of
from messaging.realtime import send_event_now

OFFLINE_GRACE_SECONDS = 3.0
_PENDING_OFFLINE = "presence:pending-offline:{}"


def presence_socket_opened(*, user_id: int) -> list[dict]:
    """Count the socket; returns the `presence` events for the new socket (online friends)."""
    count = socket_opened(user_id)
    user = User.objects.only("id", "number", "presence").get(pk=user_id)
    online_friends = online_user_ids(friend_ids_of(user))
    # A pending offline that never went out: friends still see this user online.
    was_pending = bool(cache.delete(_PENDING_OFFLINE.format(user_id)))
    if count == 1 and not was_pending and user.presence != Presence.INVISIBLE:
        send_event_now(online_friends, {"type": "presence", "user": user.number, "presence": user.presence})
    friends = User.objects.filter(pk__in=online_friends).exclude(presence=Presence.INVISIBLE)
    return [
        {"type": "presence", "user": f.number, "presence": f.presence}
        for f in friends.only("number", "presence").order_by("number")
    ]


def presence_socket_closed(*, user_id: int) -> bool:
    """Count the socket closed; True when it was the user's last (announce offline later)."""
    if socket_closed(user_id) > 0:
        return False
    cache.set(_PENDING_OFFLINE.format(user_id), 1, timeout=int(OFFLINE_GRACE_SECONDS) + 60)
    return True


def presence_offline_announce(*, user_id: int) -> None:
    """After the grace period: tell online friends the user went offline, if still so."""
    if not cache.delete(_PENDING_OFFLINE.format(user_id)) or online_user_ids([user_id]):
        return
    user = User.objects.only("id", "number", "presence").filter(pk=user_id).first()
    if user is None or user.presence == Presence.INVISIBLE:
        return
    send_event_now(
        online_user_ids(friend_ids_of(user)), {"type": "presence", "user": user.number, "presence": "offline"}
    )
