"""Receiving a provider's webhook: `POST /api/v1/payments/webhook/<provider>` (CONTRACT section 5).

`webhook_receive` is the one code path for every delivery, whether it came over HTTP or from the
sandbox checkout page's buttons: verify the signature over the raw bytes (before anything parses
them), parse, apply through coins.services.payment_event_apply, and answer. The effect is
committed before the answer exists, so a 200 means the wallet is already credited.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from coins import services
from coins.payments.errors import BadSignature
from coins.payments.registry import provider_get
from core.exceptions import ApplicationError


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    body: dict[str, Any]


def webhook_receive(*, provider_name: str, raw_body: bytes, headers: Mapping[str, str]) -> WebhookAnswer:
    provider = provider_get(provider_name)
    if provider is None:
        return WebhookAnswer(404, {"code": "not_found", "detail": "Not found."})
    try:
        if not provider.verify_signature(raw_body, headers):
            raise BadSignature()
        notification = provider.parse_notification(raw_body)
        result = services.payment_event_apply(provider=provider.name, payload=notification.as_payload())
    except ApplicationError as exc:
        return WebhookAnswer(exc.status_code, exc.as_body())
    return WebhookAnswer(200, {"status": result.topup.status, "outcome": result.outcome})


@csrf_exempt
@require_POST
def payment_webhook(request: HttpRequest, provider_name: str) -> JsonResponse:
    raw_body = request.body  # first: the signature covers these exact bytes
    answer = webhook_receive(provider_name=provider_name, raw_body=raw_body, headers=request.headers)
    return JsonResponse(answer.body, status=answer.status_code)
