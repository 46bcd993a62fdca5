from django.apps import AppConfig


class CoinsConfig(AppConfig):
    name = "coins"
    verbose_name = "Coins ledger"

    def ready(self) -> None:
        from coins.metrics import ledger_figures
        from core.metrics import scrape_collector_register

        scrape_collector_register("ledger", ledger_figures)

        from coins.checks import sandbox_startup_warning  # registers the system check too

        sandbox_startup_warning()
