"""Read-only admin views of red packets and their shares, for operators: what was sent where,
who claimed what, what went back. Nothing can be added, changed or deleted here (money moves
only through redpackets.services and the ledger)."""

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from redpackets.models import RedPacket, RedPacketShare

BIGINT_MAX = 2**63 - 1


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _as_int(term: str) -> int | None:
    term = term.strip().removeprefix("#")
    if term.isascii() and term.isdigit() and int(term) <= BIGINT_MAX:
        return int(term)
    return None


class ShareInline(_ReadOnly, admin.TabularInline):
    model = RedPacketShare
    extra = 0
    can_delete = False
    fields = ["position", "amount", "claimed_by", "claimed_at", "claim_transaction"]
    readonly_fields = fields
    ordering = ["position"]


@admin.register(RedPacket)
class RedPacketAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "sender",
        "conversation",
        "mode",
        "total",
        "count",
        "remaining_count",
        "status",
        "created_at",
        "expires_at",
    ]
    list_filter = ["status", "mode"]
    list_select_related = ["sender", "conversation"]
    search_fields = ["sender__username"]
    search_help_text = "A packet id, the sender's account number or username, or a conversation id."
    date_hierarchy = "created_at"
    inlines = [ShareInline]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        number = _as_int(search_term)
        if number is None:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(Q(pk=number) | Q(sender__number=number) | Q(conversation_id=number)), False


@admin.register(RedPacketShare)
class RedPacketShareAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ["id", "packet", "position", "amount", "claimed_by", "claimed_at"]
    list_select_related = ["packet", "claimed_by"]
    search_fields = ["claimed_by__username"]
    search_help_text = "A packet id or the claimer's account number or username."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        number = _as_int(search_term)
        if number is None:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(Q(packet_id=number) | Q(claimed_by__number=number)), False
