"""The operators' permission groups.

- "Ledger auditors": view every coins model, statements and the trial balance (view_statement).
- "Ledger operators": the auditors' permissions, plus reversing transactions, granting promotional
  coins, adding and editing top-up packages, and starting a reconciliation.
Permissions are created first (they are otherwise created only after all migrations have run).
Re-running adds what is missing and removes nothing an administrator added since.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

COINS_MODELS = [
    "account",
    "transaction",
    "entry",
    "topuppackage",
    "topup",
    "paymentevent",
    "receipt",
    "reconciliationrun",
    "reconciliationfinding",
    "operatoraction",
]
AUDITORS = "Ledger auditors"
OPERATORS = "Ledger operators"
AUDITOR_PERMISSIONS = [f"view_{model}" for model in COINS_MODELS] + ["view_statement"]
OPERATOR_PERMISSIONS = AUDITOR_PERMISSIONS + [
    "reverse_transaction",
    "grant_promotion",
    "add_topuppackage",
    "change_topuppackage",
    "add_reconciliationrun",
]


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    for name, codenames in ((AUDITORS, AUDITOR_PERMISSIONS), (OPERATORS, OPERATOR_PERMISSIONS)):
        group, _ = Group.objects.using(db).get_or_create(name=name)
        permissions = Permission.objects.using(db).filter(content_type__app_label="coins", codename__in=codenames)
        assert permissions.count() == len(codenames), f"missing coins permissions for {name}"
        group.permissions.add(*permissions)


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(
        name__in=[AUDITORS, OPERATORS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("coins", "0003_payments_and_operations"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
