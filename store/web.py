"""The store page `/store/` (server-rendered): the catalog, buying and gifting, the inventory and
the VIP switch. Forms post to the views below, which call the same services as the API; each
form carries a fresh key (hidden `key`, a UUID made when the page was rendered) that is the
purchase's request key, so a double submit buys once.
"""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.selectors import friendships_of
from coins.errors import InsufficientFunds
from coins.ledger import wallet_balance
from core.exceptions import ApplicationError
from core.throttling import rate_check
from store import selectors, services
from store.errors import AlreadyOwned

KEY_MAX_LENGTH = 64


@login_required
def store_page(request: HttpRequest) -> HttpResponse:
    owned_ids = selectors.owned_item_ids(request.user)
    items = list(selectors.items_on_sale())
    friends = [f.friend for f in friendships_of(request.user)]
    return render(
        request,
        "store/store.html",
        {
            "balance": wallet_balance(request.user),
            "items": [(item, item.pk in owned_ids, str(uuid.uuid4())) for item in items],
            "friends": friends,
            "inventory": selectors.inventory_of(request.user),
            "vip": selectors.vip_status(request.user),
        },
    )


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return -1  # refused by the service as invalid


@login_required
@require_POST
def store_buy(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    key = request.POST.get("key", "")
    if not 1 <= len(key) <= KEY_MAX_LENGTH or not key.isprintable():
        messages.error(request, _("The form expired; please try again."))
        return redirect("store")
    try:
        rate_check("money", f"user:{user.pk}")
        purchase = services.purchase_create(
            buyer=user,
            sku=request.POST.get("sku", ""),
            quantity=_int_or_none(request.POST.get("quantity")),
            gift_to=_int_or_none(request.POST.get("gift_to")),
            idempotency_key=f"web:{key}",
        )
    except InsufficientFunds:
        messages.error(request, _("You do not have enough coins for this. Top up in your wallet first."))
    except AlreadyOwned:
        messages.error(request, _("Already owned: it can be bought only once."))
    except ApplicationError as error:
        messages.error(request, error.detail)
    else:
        if purchase.is_gift:
            messages.success(
                request,
                _("You gave %(item)s to %(name)s.")
                % {"item": purchase.item.name, "name": purchase.recipient.display_name},
            )
        else:
            messages.success(request, _("You bought %(item)s.") % {"item": purchase.item.name})
    return redirect("store")


@login_required
@require_POST
def store_vip(request: HttpRequest) -> HttpResponse:
    try:
        status = services.vip_auto_renew_set(
            user=request.user, auto_renew=request.POST.get("auto_renew") == "on"
        )
    except ApplicationError as error:
        messages.error(request, error.detail)
    else:
        if status.auto_renew:
            messages.success(request, _("VIP renews itself every 30 days."))
        else:
            messages.success(request, _("VIP will not renew; it ends when its time is up."))
    return redirect("store")
