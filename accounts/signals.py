"""Model signals that end sockets when their credentials end (CONTRACT section 7), whatever ended
them: logout, the admin (delete, bulk delete, password, "Active"), a queryset delete of tokens, or
code calling `set_password()` + `save()`. Connected by AccountsConfig.ready; the work is done by
accounts.services.

What no signal sees (`QuerySet.update(is_active=False)` or of a password hash) is caught when the
socket re-checks its credentials (accounts.socket_auth).
"""

from typing import Any

from accounts import services
from accounts.models import DeviceToken, User


def device_token_post_delete(sender: type[DeviceToken], instance: DeviceToken, **kwargs: Any) -> None:
    services.device_token_deleted(token=instance)


def user_post_save(
    sender: type[User],
    instance: User,
    created: bool,
    update_fields: frozenset[str] | None,
    raw: bool = False,
    **kwargs: Any,
) -> None:
    """A new password (`set_password` leaves `_password` set until the save completes) or a user
    saved inactive who was active (or not known to be inactive) ends the user's credentials. A
    password hash rewritten by `check_password` (a hasher upgrade) clears `_password` first: it is
    the same password and ends nothing."""
    saved = (lambda name: True) if update_fields is None else update_fields.__contains__
    if not created and not raw:
        password_changed = getattr(instance, "_password", None) is not None and saved("password")
        deactivated = saved("is_active") and not instance.is_active and instance.stored_is_active is not False
        if password_changed or deactivated:
            services.user_credentials_changed(
                user=instance, password_changed=password_changed, deactivated=deactivated
            )
    if saved("is_active"):
        instance.stored_is_active = instance.is_active
