"""Web pages for coins: the wallet (balance, packages to buy, recent statement and top-ups) and the
sandbox provider's checkout page.

The checkout page's Pay and Fail buttons stand in for the provider: they have it sign its webhook
and deliver it through coins.payments.webhooks.webhook_receive, the very code path of the HTTP
webhook, signature check included. Only a top-up's owner sees its checkout page (others get 404).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from coins import selectors, services
from coins.ledger import wallet_balance
from coins.models import Topup, TopupPackage, Transaction
from coins.payments import base as payments
from coins.payments.registry import provider_get
from coins.payments.sandbox import SandboxProvider
from coins.payments.webhooks import webhook_receive
from core.exceptions import ApplicationError

STATEMENT_LINES = 20
_BUTTON_EVENTS = {"pay": payments.SUCCEEDED, "fail": payments.FAILED}

# What the reader sees for a statement line's kind and a top-up's status (the models' own labels
# are the admin's English).
KIND_LABELS = {
    Transaction.Kind.TOPUP: _("Top-up"),
    Transaction.Kind.TOPUP_REFUND: _("Top-up refund"),
    Transaction.Kind.TRANSFER: _("Transfer"),
    Transaction.Kind.PROMOTION: _("Promotional grant"),
    Transaction.Kind.PURCHASE: _("Purchase"),
    Transaction.Kind.RED_PACKET: _("Red packet sent"),
    Transaction.Kind.RED_PACKET_CLAIM: _("Red packet claimed"),
    Transaction.Kind.RED_PACKET_RETURN: _("Red packet returned"),
    Transaction.Kind.REVERSAL: _("Reversal"),
}
STATUS_LABELS = {
    Topup.Status.PENDING: _("Pending"),
    Topup.Status.PAID: _("Paid"),
    Topup.Status.FAILED: _("Failed"),
    Topup.Status.REFUNDED: _("Refunded"),
}
# Service messages this page shows (coins.services), for the catalogue.
SERVICE_MESSAGES = (gettext_noop("Choose a package on sale."), gettext_noop("No such package on sale."))


def price_display(priced: TopupPackage | Topup) -> str:
    return f"{priced.price_minor / 100:.2f} {priced.currency}"


def _checkout_url(topup: Topup) -> str | None:
    """Where a pending top-up is paid; None when its provider is off (no Pay link to a 404)."""
    provider = provider_get(topup.provider) if topup.status == Topup.Status.PENDING else None
    return provider.checkout_url(topup) if provider else None


@login_required
def wallet_page(request: HttpRequest) -> HttpResponse:
    """The balance (kept live by static/js/wallet.js), packages to buy, recent top-ups, statement."""
    entries = selectors.statement_entries(request.user).order_by("-id")[:STATEMENT_LINES]
    lines = selectors.statement_lines(list(entries))
    topups = selectors.topups_recent(request.user)
    return render(
        request,
        "coins/wallet.html",
        {
            "balance": wallet_balance(request.user),
            "packages": [(p, price_display(p)) for p in selectors.packages_on_sale()],
            "lines": [(line, KIND_LABELS.get(line.kind, line.kind)) for line in lines],
            "topups": [(t, STATUS_LABELS.get(t.status, t.status), _checkout_url(t)) for t in topups],
        },
    )


@login_required
@require_POST
def topup_buy(request: HttpRequest) -> HttpResponse:
    try:
        package_id = int(request.POST.get("package", ""))
    except ValueError:
        messages.error(request, gettext("Choose a package."))
        return redirect("wallet")
    try:
        topup = services.topup_create(user=request.user, package_id=package_id)
    except ApplicationError as exc:
        messages.error(request, gettext(str(exc.detail)))
        return redirect("wallet")
    provider = provider_get(topup.provider)
    return redirect(provider.checkout_url(topup)) if provider else redirect("wallet")


def _sandbox_topup(request: HttpRequest, topup_id: int) -> tuple[SandboxProvider, Topup]:
    provider = provider_get(SandboxProvider.name)
    if not isinstance(provider, SandboxProvider):
        raise Http404("The sandbox provider is off.")
    try:
        topup = selectors.topup_get_for_user(user=request.user, topup_id=topup_id)
    except ApplicationError:
        raise Http404("No such top-up.") from None
    if topup.provider != provider.name:
        raise Http404("No such top-up.")
    return provider, topup


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_checkout(request: HttpRequest, topup_id: int) -> HttpResponse:
    provider, topup = _sandbox_topup(request, topup_id)
    if request.method == "GET":
        return render(
            request,
            "coins/checkout.html",
            {"topup": topup, "price": price_display(topup), "status": STATUS_LABELS.get(topup.status)},
        )
    event = _BUTTON_EVENTS.get(request.POST.get("outcome", ""))
    if event is None:
        messages.error(request, gettext("Choose Pay or Fail payment."))
        return redirect("sandbox-checkout", topup_id=topup.pk)
    raw_body, headers = provider.delivery(topup, event)
    answer = webhook_receive(provider_name=provider.name, raw_body=raw_body, headers=headers)
    topup.refresh_from_db()
    values = {"id": topup.pk, "coins": topup.coins, "status": STATUS_LABELS.get(topup.status, topup.status)}
    if answer.status_code != 200:
        messages.error(
            request,
            gettext("The payment provider's callback was refused: %(detail)s")
            % {"detail": answer.body.get("detail")},
        )
    elif topup.status == topup.Status.PAID:
        messages.success(request, gettext("Top-up #%(id)s is paid: %(coins)s coins were added.") % values)
    elif topup.status == topup.Status.FAILED:
        messages.info(request, gettext("Top-up #%(id)s: the payment failed; no coins were added.") % values)
    else:
        messages.info(request, gettext("Top-up #%(id)s: %(status)s.") % values)
    return redirect("wallet")
