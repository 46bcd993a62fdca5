"""Admin pages beyond the model lists: an account's statement (and its CSV), the trial balance and
the promotional grant form. Statements and the trial balance need `coins.view_statement`;
granting needs `coins.grant_promotion`. The URLs are registered by AccountAdmin.
"""

import csv
from collections.abc import Iterator

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from coins.admin.forms import GrantForm
from coins.models import Account, Side
from coins.operator_actions import operator_promotion_grant
from coins.reports import account_statement, trial_balance
from core.exceptions import ApplicationError

STATEMENT_PAGE_SIZE = 100
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _context(request: HttpRequest, title: str, **extra: object) -> dict:
    return {**admin.site.each_context(request), "title": title, "opts": Account._meta, **extra}


def statement_view(request: HttpRequest, account_id: int) -> TemplateResponse:
    _require(request, "coins.view_statement")
    account = get_object_or_404(Account.objects.select_related("user"), pk=account_id)
    paginator = Paginator(account_statement(account), STATEMENT_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page") or paginator.num_pages)
    context = _context(request, f"Statement of {account}", account=account, page=page)
    return TemplateResponse(request, "admin/coins/statement.html", context)


class _Echo:
    """A file-like object whose write() hands back the line, for a streamed CSV."""

    def write(self, value: str) -> str:
        return value


def _safe_cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _statement_rows(account: Account) -> Iterator[list]:
    yield [
        "sequence",
        "created_at",
        "transaction",
        "kind",
        "memo",
        "debit",
        "credit",
        "balance_after",
        "hash",
    ]
    for entry in account_statement(account).iterator(chunk_size=2000):
        yield [
            entry.sequence,
            entry.created_at.isoformat(),
            entry.transaction_id,
            entry.transaction.kind,
            _safe_cell(entry.transaction.memo),
            entry.amount if entry.side == Side.DEBIT else "",
            entry.amount if entry.side == Side.CREDIT else "",
            entry.balance_after,
            entry.hash,
        ]


def statement_csv(request: HttpRequest, account_id: int) -> StreamingHttpResponse:
    _require(request, "coins.view_statement")
    account = get_object_or_404(Account, pk=account_id)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in _statement_rows(account)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="statement-account-{account.pk}.csv"'
    return response


def trial_balance_view(request: HttpRequest) -> TemplateResponse:
    _require(request, "coins.view_statement")
    context = _context(request, "Trial balance", report=trial_balance())
    return TemplateResponse(request, "admin/coins/trial_balance.html", context)


def grant_view(request: HttpRequest) -> HttpResponse:
    _require(request, "coins.grant_promotion")
    form = GrantForm(request.POST or None, initial={"number": request.GET.get("number")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            txn = operator_promotion_grant(
                operator=request.user,
                user=form.user,
                amount=data["amount"],
                reason=data["reason"],
                idempotency_key=data["token"],
            )
        except ApplicationError as error:
            messages.error(request, error.detail)
        else:
            messages.success(
                request, f"Granted {data['amount']} coins to {form.user} (transaction #{txn.pk})."
            )
            return redirect(
                "admin:coins_account_statement", account_id=txn.entries.get(side=Side.CREDIT).account_id
            )
    context = _context(request, "Grant promotional coins", form=form)
    return TemplateResponse(request, "admin/coins/grant.html", context)
