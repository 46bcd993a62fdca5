"""Who is calling: the client's address, behind a known number of trusted proxies."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The socket's address, or with TRUSTED_PROXY_COUNT = n the n-th address from the right of
    X-Forwarded-For (each trusted proxy appends the address it saw; anything further left is
    whatever the client chose to send)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"
