"""Who is online, and what presence each viewer may see (CONTRACT section 3).

Being online means having at least one open socket; the socket consumer keeps a per-user count in
the shared cache (`socket_opened` / `socket_closed`). What a viewer sees:
- themself: their chosen presence, `invisible` included;
- a friend: the friend's chosen presence while online, `offline` when not online or invisible;
- anyone else: `offline`.
"""

from collections.abc import Iterable

from django.core.cache import cache

from accounts.models import Presence, User

OFFLINE = "offline"
_KEY = "presence:sockets:{}"
# A crashed process cannot decrement its counts; they lapse after this, and open sockets refresh
# them on `ping` (socket_count_refresh).
SOCKET_COUNT_TTL = 24 * 3600


def _key(user_id: int) -> str:
    return _KEY.format(user_id)


def socket_opened(user_id: int) -> int:
    """Count one more open socket of the user; returns the new count (1 means just came online)."""
    key = _key(user_id)
    cache.add(key, 0, timeout=SOCKET_COUNT_TTL)
    count = cache.incr(key)
    cache.touch(key, SOCKET_COUNT_TTL)
    return count


def socket_closed(user_id: int) -> int:
    """Count one socket fewer; returns the remaining count (0 means just went offline)."""
    key = _key(user_id)
    try:
        count = cache.decr(key)
    except ValueError:
        return 0
    if count <= 0:
        cache.delete(key)
        return 0
    return count


def socket_count_refresh(user_id: int) -> None:
    """For a socket that stays open (every few minutes): push the count's expiry back, and if the
    key vanished meanwhile (expired, or Redis lost its data) count this socket again. One round
    trip in the usual case. A count restored this way may be lower than the number of open
    sockets; it never reads offline while one of them keeps refreshing."""
    key = _key(user_id)
    if not cache.touch(key, SOCKET_COUNT_TTL):
        cache.add(key, 1, timeout=SOCKET_COUNT_TTL)


def online_user_ids(user_ids: Iterable[int]) -> set[int]:
    keys = {_key(uid): uid for uid in user_ids}
    found = cache.get_many(list(keys))
    return {keys[k] for k, count in found.items() if count and count > 0}


def visible_presence(user: User, *, viewer_is_self: bool, viewer_is_friend: bool, online: bool) -> str:
    if viewer_is_self:
        return user.presence
    if not viewer_is_friend or not online or user.presence == Presence.INVISIBLE:
        return OFFLINE
    return user.presence
