"""The coins admin (operators' side): the ledger view-only, packages editable, records read-only,
and the actions that change the ledger only through new transactions with a written reason.

Who may do what (groups from migration 0004): "Ledger auditors" view everything, statements and the
trial balance included; "Ledger operators" also reverse transactions, grant promotional coins,
edit packages and start reconciliations. No one adds, changes or deletes transactions or entries.
"""

from coins.admin import ledger, operations, payments

__all__ = ["ledger", "operations", "payments"]
