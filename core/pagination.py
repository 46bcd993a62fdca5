"""Cursor pagination by id (CONTRACT section 2): `?before=<id>` / `?after=<id>` and `?limit=`.

Answers `{"results": [...], "has_more": bool}`. With `before` (or no cursor) the page is the
`limit` items just below the cursor; with `after`, the `limit` items just above it.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.request import Request

from core.input_rules import MAX_INT64

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class CursorParamsSerializer(serializers.Serializer):
    # A query string is not JSON, so core.parsers' 64-bit rule does not reach it: bound it here.
    before = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT64)
    after = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT64)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)

    def validate(self, attrs: dict) -> dict:
        if "before" in attrs and "after" in attrs:
            raise serializers.ValidationError({"after": ["Use either before or after, not both."]})
        return attrs


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    has_more: bool


def cursor_params(request: Request) -> dict:
    params = CursorParamsSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


def paginate_by_key(
    queryset: QuerySet, request: Request, *, key: str = "id", newest_first: bool = True
) -> Page:
    """Slice `queryset` around the request's cursor on the integer column `key`.

    `newest_first` orders the page descending (a statement, search results); otherwise ascending
    (history). Either way `before` walks towards smaller keys and `after` towards larger ones.
    """
    params = cursor_params(request)
    limit = params["limit"]
    if "after" in params:
        rows = list(queryset.filter(**{f"{key}__gt": params["after"]}).order_by(key)[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        if newest_first:
            rows.reverse()
    else:
        if "before" in params:
            queryset = queryset.filter(**{f"{key}__lt": params["before"]})
        rows = list(queryset.order_by(f"-{key}")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        if not newest_first:
            rows.reverse()
    return Page(items=rows, has_more=has_more)


def page_body(page: Page, render: Callable[[Sequence[Any]], list]) -> dict:
    return {"results": render(page.items), "has_more": page.has_more}


def page_serializer(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The OpenAPI shape of a page of `item`."""
    return type(
        name,
        (serializers.Serializer,),
        {"results": item(many=True), "has_more": serializers.BooleanField()},
    )
