"""The coins API (CONTRACT section 5). Views parse, call one service or selector, and render.

Money-moving POSTs (💰) are wrapped in core.idempotency.idempotent and MoneyThrottle; the
provider's webhook is a plain Django view in coins.payments.webhooks (it must read the raw body).
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.selectors import user_render_context
from coins import selectors, services
from coins.ledger import wallet_balance
from coins.serializers import (
    PackageSerializer,
    StatementLineSerializer,
    TopupInputSerializer,
    TopupSerializer,
    TransferInputSerializer,
    TransferSerializer,
    WalletSerializer,
)
from core.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from core.openapi import AUTH_ERRORS, errors
from core.pagination import page_body, page_serializer, paginate_by_key
from core.throttling import MoneyThrottle

StatementPageSerializer = page_serializer("StatementPage", StatementLineSerializer)
TopupPageSerializer = page_serializer("TopupPage", TopupSerializer)

CURSOR_PARAMETERS = [
    OpenApiParameter("before", int, description="Cursor: items below this id"),
    OpenApiParameter("after", int, description="Cursor: items above this id"),
    OpenApiParameter("limit", int, description="1-100, default 50"),
]

MONEY_ERRORS = (
    (400, "idempotency_key_required"),
    (409, "idempotency_key_reused"),
    (429, "rate_limited"),
    *AUTH_ERRORS,
)


class WalletApi(APIView):
    @extend_schema(
        tags=["coins"], responses={200: WalletSerializer, **errors(*AUTH_ERRORS)}, summary="Your balance"
    )
    def get(self, request: Request) -> Response:
        return Response({"balance": wallet_balance(request.user)})


class StatementApi(APIView):
    @extend_schema(
        tags=["coins"],
        parameters=CURSOR_PARAMETERS,
        responses={200: StatementPageSerializer, **errors((400, "invalid"), *AUTH_ERRORS)},
        summary="Your statement, newest first",
        operation_id="coins_transactions_list",
    )
    def get(self, request: Request) -> Response:
        page = paginate_by_key(selectors.statement_entries(request.user), request)
        lines = selectors.statement_lines(page.items)
        context = user_render_context(request.user, [line.counterparty for line in lines])
        return Response(
            page_body(page, lambda _: StatementLineSerializer(lines, many=True, context=context).data)
        )


class PackageListApi(APIView):
    @extend_schema(
        tags=["coins"],
        responses={200: PackageSerializer(many=True), **errors(*AUTH_ERRORS)},
        summary="Top-up packages on sale",
    )
    def get(self, request: Request) -> Response:
        return Response(PackageSerializer(selectors.packages_on_sale(), many=True).data)


class TopupListCreateApi(APIView):
    """`coins/topups`: GET lists the caller's top-ups; 💰 POST orders one (money-throttled)."""

    def get_throttles(self) -> list[BaseThrottle]:
        # Only the order moves money; reading the list counts against no money limit.
        return [MoneyThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        tags=["coins"],
        parameters=CURSOR_PARAMETERS,
        responses={200: TopupPageSerializer, **errors((400, "invalid"), *AUTH_ERRORS)},
        summary="Your top-ups, newest first",
        description="Each with its status: pending, paid, failed or refunded.",
        operation_id="coins_topups_list",
    )
    def get(self, request: Request) -> Response:
        page = paginate_by_key(selectors.topups_for_user(request.user), request)
        return Response(page_body(page, lambda items: TopupSerializer(items, many=True).data))

    @extend_schema(
        tags=["coins"],
        request=TopupInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: TopupSerializer,
            **errors((400, "invalid"), (503, "payments_unavailable"), *MONEY_ERRORS),
        },
        summary="💰 Order coins: a pending top-up and where to pay for it",
        description="The wallet is credited when the payment provider's signed webhook confirms "
        "the payment. With the provider switched off: 503 payments_unavailable.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = TopupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        topup = services.topup_create(user=request.user, package_id=data.validated_data["package"])
        return Response(TopupSerializer(topup).data, status=status.HTTP_201_CREATED)


class TopupDetailApi(APIView):
    @extend_schema(
        tags=["coins"],
        responses={200: TopupSerializer, **errors((404, "not_found"), *AUTH_ERRORS)},
        summary="One of your top-ups: pending, paid, failed or refunded",
    )
    def get(self, request: Request, topup_id: int) -> Response:
        topup = selectors.topup_get_for_user(user=request.user, topup_id=topup_id)
        return Response(TopupSerializer(topup).data)


class TransferCreateApi(APIView):
    throttle_classes = [MoneyThrottle]

    @extend_schema(
        tags=["coins"],
        request=TransferInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: TransferSerializer,
            **errors(
                (400, "invalid"),
                (403, "not_friends"),
                (404, "not_found"),
                (409, "insufficient_funds"),
                *MONEY_ERRORS,
            ),
        },
        summary="💰 Send coins to a friend",
        description="1 to 1,000,000 whole coins (a JSON integer), to a friend only.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = TransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.transfer_create(
            sender=request.user,
            to_number=data.validated_data["to"],
            amount=data.validated_data["amount"],
            memo=data.validated_data["memo"],
            idempotency_key=request.headers["Idempotency-Key"],
        )
        return Response(
            {"transaction": result.transaction.pk, "balance": result.balance}, status=status.HTTP_201_CREATED
        )
