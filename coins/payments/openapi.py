"""Documents the providers' webhook in the OpenAPI schema (a POSTPROCESSING_HOOK): it is a plain
Django view, since it must read the raw body, so drf-spectacular cannot see it on its own."""

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


WEBHOOK_PATH = {
    "post": {
        "operationId": "payments_webhook",
        "tags": ["payments"],
        "summary": "A payment provider's signed callback (sandbox: provider_name=sandbox)",
        "description": (
            "Body: the raw JSON below, signed with `X-Sandbox-Signature: sha256=<hex HMAC-SHA256 of "
            "the raw body keyed with PAYMENTS_SANDBOX_SECRET>`. An event is identified by "
            "(payment_id, event): delivered again, or concurrently, it is 200 and applied once. "
            "Allowed transitions: pending -> paid, pending -> failed, paid -> refunded; any other is "
            "200 and changes nothing. A refund of coins already spent leaves the top-up paid with "
            "refund_status failed (200). 404 when the provider is off."
        ),
        "security": [],
        "parameters": [
            {"name": "provider_name", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "X-Sandbox-Signature", "in": "header", "required": True, "schema": {"type": "string"}},
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["event", "payment_id", "topup", "amount_minor", "currency"],
                        "properties": {
                            "event": {
                                "type": "string",
                                "enum": ["payment.succeeded", "payment.failed", "payment.refunded"],
                            },
                            "payment_id": {"type": "string", "maxLength": 128},
                            "topup": {"type": "integer"},
                            "amount_minor": {"type": "integer"},
                            "currency": {"type": "string"},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "Applied, or a repeat or a transition not allowed (nothing changed)",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "status": {
                                    "type": "string",
                                    "enum": ["pending", "paid", "failed", "refunded"],
                                    "description": "The top-up's status afterwards",
                                },
                                "outcome": {
                                    "type": "string",
                                    "enum": [
                                        "credited",
                                        "failed",
                                        "refunded",
                                        "refund_failed",
                                        "ignored",
                                        "duplicate",
                                    ],
                                },
                            },
                        }
                    }
                },
            },
            "400": _error("Error codes: `bad_signature`, `malformed`, `unknown_topup`, `amount_mismatch`"),
            "404": _error("Error codes: `not_found` (unknown provider, or switched off)"),
        },
    }
}


def document_webhooks(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result.setdefault("paths", {})["/api/v1/payments/webhook/{provider_name}"] = WEBHOOK_PATH
    return result
