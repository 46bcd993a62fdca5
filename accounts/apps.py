"""The accounts app: connects the logout and credential signals (accounts.signals) at start-up."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and friends"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete, post_save

        from accounts import schema, signals  # noqa: F401 - schema registers the OpenAPI auth extensions
        from accounts.models import DeviceToken, User

        user_logged_out.connect(_close_session_sockets, dispatch_uid="accounts.close_session_sockets")
        post_delete.connect(
            signals.device_token_post_delete, sender=DeviceToken, dispatch_uid="accounts.token_deleted"
        )
        post_save.connect(signals.user_post_save, sender=User, dispatch_uid="accounts.user_saved")


def _close_session_sockets(sender: object, request: object, user: object, **kwargs: object) -> None:
    """Every logout (web page or API) closes the sockets its browser session opened."""
    from accounts.services import session_sockets_close

    session = getattr(request, "session", None)
    if user is not None and session is not None:
        session_sockets_close(user_id=user.pk, session_key=session.session_key)
