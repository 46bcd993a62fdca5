"""The red-packet API (CONTRACT section 6). Views parse, call one service or selector, and render.

Sending is 💰: it needs an Idempotency-Key (core.idempotency.idempotent) and counts against the
money rate limit, as claiming does (a claim needs no key: a second claim is 409 already_claimed).
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.selectors import user_render_context
from core.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from core.openapi import AUTH_ERRORS, errors
from core.throttling import MoneyThrottle
from redpackets import selectors, services
from redpackets.models import RedPacket
from redpackets.serializers import ClaimSerializer, RedPacketSendInputSerializer, RedPacketSerializer

MONEY_ERRORS = (
    (400, "idempotency_key_required"),
    (409, "idempotency_key_reused"),
    (429, "rate_limited"),
    *AUTH_ERRORS,
)


def _render(user: User, packet: RedPacket) -> dict:
    view = selectors.red_packet_view(user=user, packet=packet)
    return RedPacketSerializer(view, context=user_render_context(user, view.users)).data


class RedPacketSendApi(APIView):
    throttle_classes = [MoneyThrottle]

    @extend_schema(
        tags=["red packets"],
        request=RedPacketSendInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: RedPacketSerializer,
            **errors(
                (400, "invalid"),
                (403, "blocked"),
                (403, "not_friends"),
                (404, "not_found"),
                (409, "insufficient_funds"),
                *MONEY_ERRORS,
            ),
        },
        summary="💰 Send a red packet into a conversation",
        description="The coins leave your wallet at once and wait in escrow; a `red_packet` message "
        '(`data: {"red_packet": id}`, body: the greeting) appears in the conversation. `count` is at '
        "most the people who can claim (1 in a direct conversation, the other members in a group) "
        "and at most `total` (every share is at least 1 coin). Random shares are a uniformly random "
        "split, so every place in the claim queue expects the same; equal shares need a total "
        "divisible by the count (400 `invalid` with `fields.total` otherwise). After 24 hours what "
        "is left goes back to you. A conversation you are not in: 404; a direct conversation you "
        "may no longer write in: 403 `blocked` / `not_friends`.",
        operation_id="red_packets_send",
    )
    @idempotent
    def post(self, request: Request, conversation_id: int) -> Response:
        data = RedPacketSendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        packet = services.red_packet_send(
            sender=request.user,
            conversation_id=conversation_id,
            total=data.validated_data["total"],
            count=data.validated_data["count"],
            mode=data.validated_data["mode"],
            greeting=data.validated_data["greeting"],
        )
        packet = selectors.red_packet_get_for_user(user=request.user, red_packet_id=packet.pk)
        return Response(_render(request.user, packet), status=status.HTTP_201_CREATED)


class RedPacketClaimApi(APIView):
    throttle_classes = [MoneyThrottle]

    @extend_schema(
        tags=["red packets"],
        request=None,
        responses={
            200: ClaimSerializer,
            **errors(
                (403, "sender_cannot_claim"),
                (404, "not_found"),
                (409, "already_claimed"),
                (410, "exhausted"),
                (410, "expired"),
                (429, "rate_limited"),
                *AUTH_ERRORS,
            ),
        },
        summary="Claim your share of a red packet",
        description="Once per person; the coins go to your wallet at once. Only members who see the "
        "packet's message can claim (others: 404, as if it did not exist); its sender cannot "
        "(403 `sender_cannot_claim`, in a direct conversation too). The sender and you get "
        "`red_packet.claimed` over the socket.",
        operation_id="red_packets_claim",
    )
    def post(self, request: Request, red_packet_id: int) -> Response:
        result = services.red_packet_claim(user=request.user, red_packet_id=red_packet_id)
        return Response(
            {"amount": result.share.amount, "balance": result.balance, "red_packet": result.packet.pk}
        )


class RedPacketDetailApi(APIView):
    @extend_schema(
        tags=["red packets"],
        responses={200: RedPacketSerializer, **errors((404, "not_found"), *AUTH_ERRORS)},
        summary="A red packet: what is left, who claimed what, when it expires",
        description="Seen by the conversation's members who see its message, and by its sender.",
        operation_id="red_packets_retrieve",
    )
    def get(self, request: Request, red_packet_id: int) -> Response:
        packet = selectors.red_packet_get_for_user(user=request.user, red_packet_id=red_packet_id)
        return Response(_render(request.user, packet))
