"""The store API (CONTRACT section 6). Views parse, call one service or selector, and render.

Buying is 💰: it needs an Idempotency-Key (core.idempotency.idempotent) and counts against the
money rate limit.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.selectors import user_render_context
from core.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from core.openapi import AUTH_ERRORS, errors
from core.pagination import page_body, page_serializer, paginate_by_key
from core.throttling import MessageThrottle, MoneyThrottle
from messaging.rendering import message_payload
from messaging.serializers import MessageSerializer
from store import gifts, selectors, services, styles
from store.serializers import (
    GiftSendInputSerializer,
    InventoryLineSerializer,
    ItemSerializer,
    PurchaseInputSerializer,
    PurchaseSerializer,
    StyleInputSerializer,
    StyleSerializer,
    VipInputSerializer,
    VipSerializer,
)

PurchasePageSerializer = page_serializer("PurchasePage", PurchaseSerializer)

CURSOR_PARAMETERS = [
    OpenApiParameter("before", int, description="Cursor: purchases below this id"),
    OpenApiParameter("after", int, description="Cursor: purchases above this id"),
    OpenApiParameter("limit", int, description="1-100, default 50"),
]

MONEY_ERRORS = (
    (400, "idempotency_key_required"),
    (409, "idempotency_key_reused"),
    (429, "rate_limited"),
    *AUTH_ERRORS,
)


class ItemListApi(APIView):
    @extend_schema(
        tags=["store"],
        responses={200: ItemSerializer(many=True), **errors(*AUTH_ERRORS)},
        summary="The catalog, with what you own",
        description="Items on sale in catalog order. `owned`: you hold it now (a sticker pack, "
        "bubble or name colour you bought, a gift you hold at least one of, an active VIP "
        "membership). Sticker packs list their `stickers`; a sticker message is "
        '`{"kind": "sticker", "body": "", "data": {"sku": pack_sku, "sticker": sticker_id}}`.',
    )
    def get(self, request: Request) -> Response:
        context = {"owned_ids": selectors.owned_item_ids(request.user)}
        return Response(ItemSerializer(selectors.items_on_sale(), many=True, context=context).data)


class PurchaseListCreateApi(APIView):
    """`store/purchases`: GET your purchase history; 💰 POST buys (money-throttled)."""

    def get_throttles(self) -> list[BaseThrottle]:
        return [MoneyThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        tags=["store"],
        parameters=CURSOR_PARAMETERS,
        responses={200: PurchasePageSerializer, **errors((400, "invalid"), *AUTH_ERRORS)},
        summary="What you bought (gifts you gave and VIP renewals too), newest first",
        operation_id="store_purchases_list",
    )
    def get(self, request: Request) -> Response:
        page = paginate_by_key(selectors.purchases_of(request.user), request)
        context = user_render_context(request.user, [p.recipient for p in page.items])
        return Response(
            page_body(page, lambda items: PurchaseSerializer(items, many=True, context=context).data)
        )

    @extend_schema(
        tags=["store"],
        request=PurchaseInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: PurchaseSerializer,
            **errors(
                (400, "invalid"),
                (403, "not_friends"),
                (403, "blocked"),
                (404, "not_found"),
                (409, "insufficient_funds"),
                (409, "already_owned"),
                *MONEY_ERRORS,
            ),
        },
        summary="💰 Buy an item, for yourself or as a gift to a friend",
        description="The price (times `quantity`) leaves your wallet in one ledger transaction and "
        "the item is the recipient's at once; a receipt is issued. `quantity` (1-99) is for gifts "
        "(flowers, cakes); every other item is bought one at a time. A sticker pack, bubble or "
        "name colour the recipient already owns: 409 `already_owned` (also when two purchases "
        "race: exactly one is charged). VIP: 30 days, added to the end of an active membership; "
        "bought for yourself it renews itself every 30 days while your wallet holds the price "
        "(turn that off with `PATCH store/vip`). `gift_to`: a friend's number (someone else: 403 "
        "`not_friends`, a block either way: 403 `blocked`, nobody: 404); they get a "
        '`{"type": "store.gift", "purchase", "sku", "name", "kind", "quantity", "from": user}` '
        "socket event and a `gift` message from you in your direct conversation, with "
        '`data: {"purchase", "sku", "name", "quantity", "image_url"}`. Unknown or withdrawn `sku`: '
        "400 `invalid`.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = PurchaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        purchase = services.purchase_create(
            buyer=request.user,
            sku=data.validated_data["sku"],
            quantity=data.validated_data.get("quantity"),
            gift_to=data.validated_data.get("gift_to"),
            idempotency_key=request.headers["Idempotency-Key"],
        )
        context = user_render_context(request.user, [purchase.recipient])
        return Response(PurchaseSerializer(purchase, context=context).data, status=status.HTTP_201_CREATED)


class InventoryApi(APIView):
    @extend_schema(
        tags=["store"],
        responses={200: InventoryLineSerializer(many=True), **errors(*AUTH_ERRORS)},
        summary="What you hold now",
        description="One line per item: `quantity` (1 for things owned once, the count of gifts) "
        "and `expires_at` (VIP; otherwise null). Refunded and expired things are not listed.",
    )
    def get(self, request: Request) -> Response:
        return Response(InventoryLineSerializer(selectors.inventory_of(request.user), many=True).data)


class VipApi(APIView):
    @extend_schema(
        tags=["store"],
        responses={200: VipSerializer, **errors(*AUTH_ERRORS)},
        summary="Your VIP membership",
        description="`active` while paid time is left. With `auto_renew` the next 30 days are "
        "charged about an hour before `expires_at`; with too few coins the membership is not "
        "renewed (`lapsed_at` is set, no more attempts) and you get a `store.vip_lapsed` socket "
        "event (and a mail when you have an address). A renewal sends `store.vip_renewed`.",
    )
    def get(self, request: Request) -> Response:
        return Response(VipSerializer(selectors.vip_status(request.user)).data)

    @extend_schema(
        tags=["store"],
        request=VipInputSerializer,
        responses={200: VipSerializer, **errors((400, "invalid"), (404, "not_found"), *AUTH_ERRORS)},
        summary="Switch VIP auto-renewal on or off",
        description="`{auto_renew: bool}`. Switching it on after a failed renewal lets the next run "
        "try again. 404 `not_found` if you never had a membership.",
    )
    def patch(self, request: Request) -> Response:
        data = VipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.vip_auto_renew_set(user=request.user, auto_renew=data.validated_data["auto_renew"])
        return Response(VipSerializer(result).data)


class StyleApi(APIView):
    @extend_schema(
        tags=["store"],
        responses={200: StyleSerializer, **errors(*AUTH_ERRORS)},
        summary="The bubble and name colour you show in chat",
        description="Skus of items you hold, or null. Until you choose, the one of each kind you got "
        "last is shown; getting a new one shows it; losing the one shown (a refund) shows the one "
        "you got last of those left. Every message you send carries them, and your VIP badge, as "
        "`sender_style` (colours, not skus), as they were when you sent it.",
        operation_id="store_style_retrieve",
    )
    def get(self, request: Request) -> Response:
        return Response(StyleSerializer(styles.chat_style_of(request.user)).data)

    @extend_schema(
        tags=["store"],
        request=StyleInputSerializer,
        responses={
            200: StyleSerializer,
            **errors((400, "invalid"), (403, "not_owned"), *AUTH_ERRORS),
        },
        summary="Choose the bubble and name colour you show in chat",
        description="`{bubble?: sku|null, name_color?: sku|null}`; a field left out stays as it is, "
        "null shows none. An item you do not hold (or no such item): 403 `not_owned`; an item of "
        "another kind (a name colour as `bubble`): 400 `invalid` with `fields`. Messages you send "
        "from now on carry the new style; messages sent before keep theirs.",
        operation_id="store_style_update",
    )
    def patch(self, request: Request) -> Response:
        data = StyleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        choice = styles.chat_style_choose(user=request.user, **data.validated_data)
        return Response(StyleSerializer(choice).data)


class GiftSendApi(APIView):
    # A gift in chat is a message: it counts against the message rate limit.
    throttle_classes = [MessageThrottle]

    @extend_schema(
        tags=["store"],
        request=GiftSendInputSerializer,
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(MessageSerializer, description="A repeated client_id: the first message"),
            **errors(
                (400, "invalid"),
                (403, "not_owned"),
                (403, "blocked"),
                (403, "not_friends"),
                (404, "not_found"),
                (429, "rate_limited"),
                *AUTH_ERRORS,
            ),
        },
        summary="Give a gift from your inventory in a conversation",
        description="Uses one of your gifts `sku` (see `store/inventory`) and sends a `gift` message "
        '(body: the gift\'s name; `data: {"purchase": null, "sku", "name", "quantity": 1, '
        '"image_url"}`), pushed to the members as `message.new` like any message, in one '
        "transaction. None left (or no such gift): 403 `not_owned`; an item that is not a gift: 400 "
        "`invalid`; a conversation you are not in: 404; a direct conversation you may no longer "
        "write in: 403 `blocked` / `not_friends`. A gift used here can no longer be refunded. "
        "Clients cannot send `gift` messages through `messages` (400 `invalid`).",
        operation_id="store_gifts_send",
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        data = GiftSendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = gifts.gift_send(
            sender=request.user,
            conversation_id=conversation_id,
            sku=data.validated_data["sku"],
            client_id=data.validated_data["client_id"],
        )
        return Response(
            message_payload(message), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
