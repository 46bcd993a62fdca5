"""`python manage.py reconcile`: run a reconciliation now (as the nightly task does), drawing a
progress bar on stderr, printing the summary as one JSON line and then each finding; exit 1 when
there are findings (the run is stored, logged and mailed to the admins like a scheduled one)."""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from coins.reconciliation import reconciliation_run


class Command(BaseCommand):
    help = "Reconcile the ledger and the top-ups; exit non-zero when anything is wrong."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args: object, **options: object) -> None:
        progress = None if options["no_progress"] else self._draw_progress
        run = reconciliation_run(triggered_by="command", progress=progress)
        self.stdout.write(json.dumps({"run": run.pk, "ok": run.ok, **run.summary}, ensure_ascii=False))
        for finding in run.findings.order_by("pk"):
            self.stdout.write(f"{finding.kind}: {finding.detail}")
        if not run.ok:
            raise CommandError(
                f"reconciliation #{run.pk} found {run.summary['findings']} problem(s)", returncode=1
            )

    def _draw_progress(self, done: int, total: int, label: str, width: int = 30) -> None:
        """A text bar redrawn in place on a terminal, one line per step otherwise (logs, CI)."""
        filled = width * done // total
        bar = "#" * filled + "-" * (width - filled)
        if self.stderr.isatty():
            end = "\n" if done == total else ""
            self.stderr.write(f"\r[{bar}] {done}/{total} {label:<30}", ending=end)
        else:
            self.stderr.write(f"[{bar}] {done}/{total} {label}")
        self.stderr.flush()
