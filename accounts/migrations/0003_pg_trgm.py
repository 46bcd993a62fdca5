from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    """pg_trgm for substring-search indexes; Django skips this on databases other than PostgreSQL."""

    dependencies = [("accounts", "0002_account_number_source")]

    operations = [TrigramExtension()]
