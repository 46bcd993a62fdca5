"""OpenAPI helpers: the error body and the error responses each endpoint documents."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(help_text="A stable snake_case code, e.g. not_found."),
        "detail": serializers.CharField(help_text="Text for a person."),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="Validation errors by field (code `invalid`).",
        ),
    },
)


def errors(*pairs: tuple[int, str]) -> dict[int, OpenApiResponse]:
    """`errors((404, "not_found"), (409, "already_friends"))` -> responses for extend_schema."""
    by_status: dict[int, list[str]] = {}
    for status, code in pairs:
        by_status.setdefault(status, []).append(code)
    return {
        status: OpenApiResponse(
            ErrorSerializer,
            description="Error codes: " + ", ".join(f"`{c}`" for c in codes),
            examples=[OpenApiExample(code, value={"code": code, "detail": "..."}) for code in codes],
        )
        for status, codes in by_status.items()
    }


AUTH_ERRORS = ((401, "not_authenticated"),)


def drop_trailing_slash_duplicates(endpoints: list, **kwargs: object) -> list:
    """PREPROCESSING_HOOK: API paths also answer with a trailing slash; document each path once."""
    return [endpoint for endpoint in endpoints if not endpoint[0].endswith("/")]


# Errors any operation can answer whatever it does (CONTRACT section 2), documented on every
# operation by `document_common_errors` rather than on each view.
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_METHODS = ("get", "post", "put", "patch", "delete")


def _example_name(code: str) -> str:
    return "".join(part.title() for part in code.split("_"))  # as drf-spectacular names examples


def _add_error(responses: dict, status: int, code: str, headers: dict | None = None) -> None:
    response = responses.setdefault(str(status), {"description": "Error codes: "})
    content = response.setdefault("content", {}).setdefault("application/json", {"schema": _ERROR_REF})
    examples = content.setdefault("examples", {})
    if _example_name(code) not in examples:
        examples[_example_name(code)] = {"value": {"code": code, "detail": "..."}, "summary": code}
        separator = "" if response["description"].endswith(": ") else ", "
        response["description"] += f"{separator}`{code}`"
    if headers:
        response.setdefault("headers", {}).update(headers)


def document_common_errors(result: dict, **kwargs: object) -> dict:
    """POSTPROCESSING_HOOK: 503 `service_unavailable` (a database outage, with Retry-After) on every
    operation; 400 `malformed` and 415 `unsupported_media_type` where a body is read; 403
    `csrf_failed` on unsafe operations a browser session may call."""
    retry_after = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            _add_error(responses, 503, "service_unavailable", retry_after)
            body = operation.get("requestBody")
            if body:
                if "application/json" in body.get("content", {}):
                    _add_error(responses, 400, "malformed")
                _add_error(responses, 415, "unsupported_media_type")
            if method != "get" and {"cookieAuth": []} in operation.get("security", []):
                _add_error(responses, 403, "csrf_failed")
    return result
