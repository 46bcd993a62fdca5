"""`python manage.py seed_demo` (CONTRACT section 1), idempotent.

Always: the catalogs a site needs to sell anything (top-up packages; the store's items once it
exists). With DEBUG on also the demo people (published password), their conversations and coins.
With DEBUG off it creates no account at all: a known password must never reach production.

It lives in its own app because it uses every app; no app imports it (the import contracts in
.importlinter keep apps free of cycles).
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.demo import DEMO_PASSWORD, seed_accounts
from coins.demo import seed_coin_packages, seed_coins
from messaging.demo import seed_messaging
from store.demo import seed_store_catalog


class Command(BaseCommand):
    help = "Create the top-up packages; with DEBUG on also demo people, conversations and coins (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        with transaction.atomic():
            seed_coin_packages()
            seed_store_catalog()
            if not settings.DEBUG:
                self.stdout.write(
                    self.style.SUCCESS(
                        "Catalogs ready (top-up packages, store items). DEBUG is off: no demo accounts."
                    )
                )
                return
            people = seed_accounts()
            seed_messaging(people)
            seed_coins(people)
        numbers = ", ".join(f"{u.username} #{u.number}" for u in people.values())
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {numbers} (password {DEMO_PASSWORD})."))
