"""Operators' view of people, friendships, requests and blocks; searchable by number and username.

`/admin/login/` checks passwords under the failed-login limits of every other login
(accounts.forms.AdminLoginForm). Deleting a device token here (one or in bulk), changing a password
or unticking "Active" closes the sockets those credentials opened (accounts.signals).
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from accounts.forms import AdminLoginForm
from accounts.models import Block, DeviceToken, FriendRequest, Friendship, User

admin.site.login_form = AdminLoginForm


class NumberSearchMixin:
    """Lets the search box find people by account number as well as by text."""

    number_fields: tuple[str, ...] = ()

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        term = search_term.strip()
        if term.isdigit():
            by_number = Q()
            for field in self.number_fields:
                by_number |= Q(**{field: int(term)})
            queryset |= self.model.objects.filter(by_number)  # type: ignore[attr-defined]
        return queryset, may_have_duplicates


@admin.register(User)
class HuddleUserAdmin(NumberSearchMixin, UserAdmin):
    number_fields = ("number",)
    list_display = ("number", "username", "display_name", "email", "is_active", "is_staff", "date_joined")
    search_fields = ("username", "display_name", "email")
    ordering = ("number",)
    readonly_fields = ("number", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("number", "username", "password")}),
        (
            "Profile",
            {"fields": ("display_name", "signature", "email", "avatar", "presence", "read_receipts")},
        ),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )


@admin.register(Friendship)
class FriendshipAdmin(NumberSearchMixin, admin.ModelAdmin):
    number_fields = ("user__number", "friend__number")
    list_display = ("user", "friend", "group", "since")
    search_fields = ("user__username", "friend__username")
    list_select_related = ("user", "friend")
    raw_id_fields = ("user", "friend")


@admin.register(FriendRequest)
class FriendRequestAdmin(NumberSearchMixin, admin.ModelAdmin):
    number_fields = ("from_user__number", "to_user__number")
    list_display = ("id", "from_user", "to_user", "status", "created_at", "responded_at")
    list_filter = ("status",)
    search_fields = ("from_user__username", "to_user__username")
    list_select_related = ("from_user", "to_user")
    raw_id_fields = ("from_user", "to_user")


@admin.register(Block)
class BlockAdmin(NumberSearchMixin, admin.ModelAdmin):
    number_fields = ("blocker__number", "blocked__number")
    list_display = ("blocker", "blocked", "created_at")
    search_fields = ("blocker__username", "blocked__username")
    list_select_related = ("blocker", "blocked")
    raw_id_fields = ("blocker", "blocked")


@admin.register(DeviceToken)
class DeviceTokenAdmin(NumberSearchMixin, admin.ModelAdmin):
    """Tokens can be revoked (deleted) here; their keys are never shown (only digests are stored)."""

    number_fields = ("user__number",)
    list_display = ("user", "user_agent", "created_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    fields = ("user", "user_agent", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
