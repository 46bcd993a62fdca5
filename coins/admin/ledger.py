"""The ledger in the admin: transactions, entries and accounts, view-only for everyone (CONTRACT
section 1). Operators change the ledger only through actions that post new transactions and ask
for a reason: "Reverse selected transactions" here and "Grant promotional coins" (coins.admin.views).
"""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from coins.admin import views
from coins.admin.base import ReadOnlyAdmin, ReadOnlyTabularInline, as_int
from coins.admin.forms import ReasonForm
from coins.models import Account, Entry, Side, Topup, Transaction
from coins.operator_actions import operator_transaction_reverse
from core.exceptions import ApplicationError

# The most transactions one "reverse" action takes: beyond that, something else is going on.
MAX_REVERSALS_AT_ONCE = 100


def _admin_link(obj: object, label: object = None) -> str:
    if obj is None:
        return "-"
    meta = obj._meta  # type: ignore[attr-defined]
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])  # type: ignore[attr-defined]
    return format_html('<a href="{}">{}</a>', url, label if label is not None else obj)


class EntryInline(ReadOnlyTabularInline):
    model = Entry
    fields = ("account", "side", "amount", "balance_after", "sequence", "created_at")
    readonly_fields = fields
    ordering = ("pk",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Entry]:
        return super().get_queryset(request).select_related("account__user")


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "kind", "amount", "memo", "actor_number", "cause")
    list_filter = ("kind", "cause", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("idempotency_key",)  # shows the box; get_search_results does the searching
    search_help_text = (
        "Transaction id, account number (of a wallet in it or of the actor), idempotency key or payment id."
    )
    list_select_related = ("actor",)
    show_full_result_count = False
    inlines = [EntryInline]
    actions = ["reverse_transactions"]
    fields = (
        "id",
        "kind",
        "memo",
        "created_at",
        "actor",
        "cause",
        "idempotency_key",
        "metadata",
        "reverses_link",
        "reversed_by_link",
        "topup_link",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transaction]:
        debits = (
            Entry.objects.filter(transaction=OuterRef("pk"), side=Side.DEBIT)
            .values("transaction")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        return super().get_queryset(request).annotate(amount=Subquery(debits))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Transaction], search_term: str
    ) -> tuple[QuerySet[Transaction], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        by_payment = Topup.objects.filter(payment_id=term)
        match = (
            Q(idempotency_key=term)
            | Q(pk__in=by_payment.values("credit_transaction_id"))
            | Q(pk__in=by_payment.values("refund_transaction_id"))
        )
        number = as_int(term)
        if number is not None:
            in_wallet = Entry.objects.filter(account__user__number=number).values("transaction_id")
            match |= Q(pk=number) | Q(actor__number=number) | Q(pk__in=in_wallet)
        return queryset.filter(match), False

    @admin.display(description="coins", ordering="amount")
    def amount(self, txn: Transaction) -> int | None:
        return txn.amount  # type: ignore[attr-defined]

    @admin.display(description="actor", ordering="actor__number")
    def actor_number(self, txn: Transaction) -> int | None:
        return txn.actor.number if txn.actor else None

    @admin.display(description="reverses")
    def reverses_link(self, txn: Transaction) -> str:
        return _admin_link(txn.reverses)

    @admin.display(description="reversed by")
    def reversed_by_link(self, txn: Transaction) -> str:
        return _admin_link(Transaction.objects.filter(reverses=txn).first())

    @admin.display(description="top-up")
    def topup_link(self, txn: Transaction) -> str:
        return _admin_link(
            Topup.objects.filter(Q(credit_transaction=txn) | Q(refund_transaction=txn)).first()
        )

    def has_reverse_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("coins.reverse_transaction")

    @admin.action(description="Reverse selected transactions", permissions=["reverse"])
    def reverse_transactions(
        self, request: HttpRequest, queryset: QuerySet[Transaction]
    ) -> TemplateResponse | None:
        if request.POST.get("select_across") == "1" or queryset.count() > MAX_REVERSALS_AT_ONCE:
            self.message_user(
                request, f"Select at most {MAX_REVERSALS_AT_ONCE} transactions one by one.", messages.ERROR
            )
            return None
        form = ReasonForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_valid():
            return self._reason_page(request, queryset, form)
        for original in queryset.order_by("pk"):
            try:
                reversal = operator_transaction_reverse(
                    operator=request.user, original=original, reason=form.cleaned_data["reason"]
                )
            except ApplicationError as error:
                self.message_user(request, f"Transaction #{original.pk}: {error.detail}", messages.ERROR)
            else:
                self.message_user(request, f"Transaction #{original.pk} reversed by #{reversal.pk}.")
        return None

    def _reason_page(self, request: HttpRequest, queryset: QuerySet, form: ReasonForm) -> TemplateResponse:
        shown = list(queryset.order_by("pk")[:20])
        context = {
            **self.admin_site.each_context(request),
            "title": "Reverse transactions",
            "opts": self.model._meta,
            "explanation": (
                "Each selected transaction gets a reversing transaction (its mirror image). "
                "A wallet that has spent the coins since cannot be reversed."
            ),
            "queryset": queryset,
            "shown": shown,
            "more": max(queryset.count() - len(shown), 0),
            "form": form,
            "action": "reverse_transactions",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "confirm_label": "Reverse them",
        }
        return TemplateResponse(request, "admin/coins/reason_confirmation.html", context)


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "transaction",
        "account",
        "side",
        "amount",
        "balance_after",
        "sequence",
        "created_at",
    )
    list_filter = ("side", "account__kind")
    search_fields = ("transaction__idempotency_key",)
    search_help_text = "Account owner's number, transaction id or entry id."
    list_select_related = ("transaction", "account__user")
    show_full_result_count = False
    fields = (
        "id",
        "transaction",
        "account",
        "side",
        "amount",
        "balance_after",
        "sequence",
        "prev_hash",
        "hash",
        "created_at",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Entry], search_term: str
    ) -> tuple[QuerySet[Entry], bool]:
        number = as_int(search_term)
        if number is None:
            return queryset.none() if search_term.strip() else queryset, False
        return queryset.filter(
            Q(account__user__number=number) | Q(transaction_id=number) | Q(pk=number)
        ), False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "owner",
        "kind",
        "normal_side",
        "balance",
        "entry_count",
        "statement_link",
        "created_at",
    )
    list_filter = ("kind", "normal_side")
    search_fields = ("code",)
    search_help_text = "Account owner's number, account id, or a system account's code."
    list_select_related = ("user",)
    change_list_template = "admin/coins/account/change_list.html"
    change_form_template = "admin/coins/account/change_form.html"
    fields = (
        "id",
        "kind",
        "user",
        "code",
        "normal_side",
        "balance",
        "entry_count",
        "last_hash",
        "created_at",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Account], search_term: str
    ) -> tuple[QuerySet[Account], bool]:
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        number = as_int(search_term)
        if number is not None:
            queryset |= self.model.objects.filter(Q(user__number=number) | Q(pk=number))
        return queryset, duplicates

    @admin.display(description="owner")
    def owner(self, account: Account) -> str:
        return str(account)

    @admin.display(description="statement")
    def statement_link(self, account: Account) -> str:
        return format_html(
            '<a href="{}">statement</a>', reverse("admin:coins_account_statement", args=[account.pk])
        )

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("<id:account_id>/statement/", wrap(views.statement_view), name="coins_account_statement"),
            path(
                "<id:account_id>/statement.csv",
                wrap(views.statement_csv),
                name="coins_account_statement_csv",
            ),
            path("trial-balance/", wrap(views.trial_balance_view), name="coins_trial_balance"),
            path("grant/", wrap(views.grant_view), name="coins_grant_promotion"),
            *super().get_urls(),
        ]
