"""`python manage.py ledger_check`: check the whole ledger and print one JSON line (CONTRACT
section 5), plus the hash chain and sequence checks and the first problems found; exit 0 only
when everything is ok."""

import json

from django.core.management.base import BaseCommand, CommandError

from coins.audit import ledger_report


class Command(BaseCommand):
    help = (
        "Check that every transaction balances, cached balances match entries, "
        "no wallet is negative, and the hash chains hold."
    )

    def handle(self, *args: object, **options: object) -> None:
        report = ledger_report()
        self.stdout.write(json.dumps(report.summary(), ensure_ascii=False))
        if not report.ok:
            raise CommandError(f"ledger_check found {len(report.problems)} problem(s)", returncode=1)
