"""The store in the admin: the catalog (items with their stickers) is managed here; purchases are
read-only, with one action, "Refund selected purchases", which asks for a reason and goes through
store.operator_actions (ledger reversal, entitlement taken back, audit row). It needs the
`coins.reverse_transaction` permission, like reversing any ledger transaction."""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.admin_forms import ReasonForm
from core.exceptions import ApplicationError
from store.models import Entitlement, Item, Purchase, Sticker
from store.operator_actions import purchase_refund

MAX_REFUNDS_AT_ONCE = 20


class StickerInline(admin.TabularInline):
    model = Sticker
    extra = 0
    fields = ("name", "image", "position")


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "kind", "price", "active", "position")
    list_filter = ("kind", "active")
    list_editable = ("active", "position")
    search_fields = ("sku", "name")
    inlines = [StickerInline]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Items that were bought are referenced by purchases; withdraw them with `active`.
        return False


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "item",
        "quantity",
        "price_total",
        "buyer",
        "recipient",
        "is_renewal",
        "created_at",
        "refunded_at",
    )
    list_filter = ("item__kind", "is_renewal")
    search_fields = ("id", "buyer__username", "recipient__username", "item__sku")
    list_select_related = ("item", "buyer", "recipient")
    actions = ["refund_purchases"]
    readonly_fields = [f.name for f in Purchase._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("coins.reverse_transaction")

    @admin.action(description="Refund selected purchases", permissions=["refund"])
    def refund_purchases(self, request: HttpRequest, queryset: QuerySet[Purchase]) -> TemplateResponse | None:
        if request.POST.get("select_across") == "1" or queryset.count() > MAX_REFUNDS_AT_ONCE:
            self.message_user(
                request, f"Select at most {MAX_REFUNDS_AT_ONCE} purchases one by one.", messages.ERROR
            )
            return None
        form = ReasonForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_valid():
            shown = list(queryset.order_by("pk")[:MAX_REFUNDS_AT_ONCE])
            context = {
                **self.admin_site.each_context(request),
                "title": "Refund purchases",
                "opts": self.model._meta,
                "explanation": (
                    "Each selected purchase is refunded to its buyer (a reversing ledger transaction) "
                    "and the item is taken back. Used-up gifts and ended VIP periods cannot be refunded."
                ),
                "queryset": queryset,
                "shown": shown,
                "more": 0,
                "form": form,
                "action": "refund_purchases",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "confirm_label": "Refund them",
            }
            return TemplateResponse(request, "admin/coins/reason_confirmation.html", context)
        for purchase in queryset.order_by("pk"):
            try:
                purchase_refund(
                    operator=request.user, purchase_id=purchase.pk, reason=form.cleaned_data["reason"]
                )
            except ApplicationError as error:
                self.message_user(request, f"Purchase #{purchase.pk}: {error.detail}", messages.ERROR)
            else:
                self.message_user(request, f"Purchase #{purchase.pk} refunded.")
        return None


@admin.register(Entitlement)
class EntitlementAdmin(admin.ModelAdmin):
    list_display = ("user", "item", "quantity", "expires_at", "auto_renew", "lapsed_at")
    list_filter = ("item__kind",)
    search_fields = ("user__username", "item__sku")
    list_select_related = ("user", "item")
    readonly_fields = ("user", "item", "quantity", "expires_at", "auto_renew", "lapsed_at", "updated_at")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
