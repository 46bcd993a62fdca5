"""OpenAPI descriptions of Huddle's authentication classes (loaded by AccountsConfig.ready)."""

from drf_spectacular.authentication import SessionScheme, TokenScheme


class DeviceTokenScheme(TokenScheme):
    target_class = "accounts.authentication.DeviceTokenAuthentication"
    name = "tokenAuth"


class CsrfSessionScheme(SessionScheme):
    target_class = "accounts.authentication.CsrfSessionAuthentication"
    name = "cookieAuth"
