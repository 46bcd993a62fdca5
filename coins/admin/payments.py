"""Top-ups in the admin: packages are edited here (operators' `change_topuppackage`); orders, the
providers' events and receipts are records and stay read-only."""

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from coins.admin.base import ReadOnlyAdmin, ReadOnlyTabularInline, as_int
from coins.models import PaymentEvent, Receipt, Topup, TopupPackage


@admin.register(TopupPackage)
class TopupPackageAdmin(admin.ModelAdmin):
    list_display = ("id", "coins", "price_minor", "currency", "active", "position")
    list_editable = ("active", "position")
    list_filter = ("active", "currency")
    ordering = ("position", "coins")


class PaymentEventInline(ReadOnlyTabularInline):
    model = PaymentEvent
    fields = ("event", "payment_id", "outcome", "received_at")
    readonly_fields = fields


@admin.register(Topup)
class TopupAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "user",
        "coins",
        "price_minor",
        "currency",
        "provider",
        "status",
        "refund_status",
        "payment_id",
        "created_at",
    )
    list_filter = ("status", "refund_status", "provider")
    date_hierarchy = "created_at"
    search_fields = ("payment_id",)
    search_help_text = "Top-up id, buyer's account number or payment id."
    list_select_related = ("user",)
    inlines = [PaymentEventInline]
    readonly_fields = (
        "user",
        "package",
        "coins",
        "price_minor",
        "currency",
        "provider",
        "status",
        "payment_id",
        "credit_transaction",
        "refund_status",
        "refund_transaction",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Topup], search_term: str) -> tuple:
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(payment_id=term)
        number = as_int(term)
        if number is not None:
            match |= Q(pk=number) | Q(user__number=number)
        return queryset.filter(match), False


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "provider", "event", "payment_id", "topup", "outcome", "received_at")
    list_filter = ("provider", "event", "outcome")
    search_fields = ("=payment_id",)
    readonly_fields = ("provider", "event", "payment_id", "topup", "outcome", "payload", "received_at")
    fields = readonly_fields


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "user",
        "description",
        "coins",
        "amount_minor",
        "currency",
        "created_at",
        "emailed_at",
    )
    list_filter = ("currency",)
    search_fields = ("=number",)
    search_help_text = "Receipt number or the customer's account number."
    list_select_related = ("user",)
    readonly_fields = (
        "number",
        "user",
        "transaction",
        "description",
        "coins",
        "amount_minor",
        "currency",
        "created_at",
        "emailed_at",
        "emailed_to",
    )
    fields = readonly_fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Receipt], search_term: str
    ) -> tuple:
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        number = as_int(search_term)
        if number is not None:
            queryset |= self.model.objects.filter(user__number=number)
        return queryset, duplicates
