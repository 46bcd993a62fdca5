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
