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
from django.views.decorators.http import require_http_methods, require_POST

from coins import selectors, services
from coins.ledger import wallet_balance
from coins.models import Topup, TopupPackage
from coins.payments import base as payments
from coins.payments.registry import provider_get
from coins.payments.sandbox import SandboxProvider
from coins.payments.webhooks import webhook_receive
from core.exceptions import ApplicationError

STATEMENT_LINES = 20
_BUTTON_EVENTS = {"pay": payments.SUCCEEDED, "fail": payments.FAILED}


def price_display(priced: TopupPackage | Topup) -> str:
    return f"{priced.price_minor / 100:.2f} {priced.currency}"


@login_required
def wallet_page(request: HttpRequest) -> HttpResponse:
    entries = selectors.statement_entries(request.user).order_by("-id")[:STATEMENT_LINES]
    return render(
        request,
        "coins/wallet.html",
        {
            "balance": wallet_balance(request.user),
            "packages": [(p, price_display(p)) for p in selectors.packages_on_sale()],
            "lines": selectors.statement_lines(list(entries)),
            "topups": selectors.topups_recent(request.user),
        },
    )


@login_required
@require_POST
def topup_buy(request: HttpRequest) -> HttpResponse:
    try:
        package_id = int(request.POST.get("package", ""))
    except ValueError:
        messages.error(request, "Choose a package.")
        return redirect("wallet")
    try:
        topup = services.topup_create(user=request.user, package_id=package_id)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
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
        return render(request, "coins/checkout.html", {"topup": topup, "price": price_display(topup)})
    event = _BUTTON_EVENTS.get(request.POST.get("outcome", ""))
    if event is None:
        messages.error(request, "Choose Pay or Fail payment.")
        return redirect("sandbox-checkout", topup_id=topup.pk)
    raw_body, headers = provider.delivery(topup, event)
    answer = webhook_receive(provider_name=provider.name, raw_body=raw_body, headers=headers)
    topup.refresh_from_db()
    if answer.status_code != 200:
        messages.error(request, f"The payment provider's callback was refused: {answer.body.get('detail')}")
    elif topup.status == topup.Status.PAID:
        messages.success(request, f"Top-up #{topup.pk} is paid: {topup.coins} coins were added.")
    elif topup.status == topup.Status.FAILED:
        messages.info(request, f"Top-up #{topup.pk}: the payment failed; no coins were added.")
    else:
        messages.info(request, f"Top-up #{topup.pk} is {topup.get_status_display().lower()}.")
    return redirect("wallet")
