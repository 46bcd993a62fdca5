"""Helpers for the receipts, reconciliation, admin and worker tests: top-ups paid and refunded
straight through the ledger (independent of the webhook), and the operators' groups."""

import importlib

from django.contrib.auth.models import Group, Permission

from accounts.models import User
from coins.ledger import credit, debit, ledger_post, ledger_post_reversal, system_account, wallet_for
from coins.models import Topup, TopupPackage, Transaction

groups_migration = importlib.import_module("coins.migrations.0004_ledger_permission_groups")


def paid_topup(user: User, coins: int = 60, price_minor: int = 600, payment_id: str | None = None) -> Topup:
    """A top-up credited as the webhook credits one: a `topup` transaction from the provider."""
    package = TopupPackage.objects.create(coins=coins, price_minor=price_minor, currency="CNY")
    topup = Topup.objects.create(
        user=user, package=package, coins=coins, price_minor=price_minor, currency="CNY", provider="sandbox"
    )
    txn = ledger_post(
        kind=Transaction.Kind.TOPUP,
        legs=[debit(system_account("provider:sandbox"), coins), credit(wallet_for(user), coins)],
        memo=f"Top-up of {coins} coins",
        metadata={"topup": topup.pk},
        idempotency_key=f"topup:{topup.pk}:credit",
    )
    topup.status = Topup.Status.PAID
    topup.payment_id = payment_id or f"pay_{topup.pk}"
    topup.credit_transaction = txn
    topup.save()
    return topup


def refund(topup: Topup) -> Transaction:
    original = topup.credit_transaction
    txn = ledger_post_reversal(
        original=original, kind=Transaction.Kind.TOPUP_REFUND, memo="test refund", metadata={}
    )
    topup.status = Topup.Status.REFUNDED
    topup.refund_status = Topup.RefundStatus.REFUNDED
    topup.refund_transaction = txn
    topup.save()
    return txn


def ensure_operator_groups() -> None:
    """The groups of migration 0004 (a transactional test's flush elsewhere may have removed them)."""
    for name, codenames in (
        (groups_migration.AUDITORS, groups_migration.AUDITOR_PERMISSIONS),
        (groups_migration.OPERATORS, groups_migration.OPERATOR_PERMISSIONS),
    ):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="coins", codename__in=codenames)
        )


def staff_in(group_name: str, username: str) -> User:
    ensure_operator_groups()
    user = User.objects.create_user(username, password="Staff-Pass-4242", is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return user
