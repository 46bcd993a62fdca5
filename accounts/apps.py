from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and friends"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from accounts import schema  # noqa: F401 - registers the OpenAPI auth extensions

        user_logged_out.connect(_close_session_sockets, dispatch_uid="accounts.close_session_sockets")


def _close_session_sockets(sender: object, request: object, user: object, **kwargs: object) -> None:
    """Every logout (web page or API) closes the sockets its browser session opened."""
    from accounts.services import session_sockets_close

    session = getattr(request, "session", None)
    if user is not None and session is not None:
        session_sockets_close(user_id=user.pk, session_key=session.session_key)
