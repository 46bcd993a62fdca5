"""Shared pieces of the coins admin: read-only model admins and search by account number."""

from django.contrib import admin
from django.http import HttpRequest

# A PostgreSQL bigint; larger digit strings are not ids or numbers.
BIGINT_MAX = 2**63 - 1


def as_int(term: str) -> int | None:
    """The search term as an id or account number ("#42" works too), or None."""
    term = term.strip().removeprefix("#")
    if term.isascii() and term.isdigit() and int(term) <= BIGINT_MAX:
        return int(term)
    return None


class ReadOnlyAdmin(admin.ModelAdmin):
    """Visible to whoever may view the model, changed by no one (superusers included)."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyTabularInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
