from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Registers the `<id:...>` path converter before any URLconf is read.
        from core import routes  # noqa: F401
        from core.observability import configure_structlog

        configure_structlog()
