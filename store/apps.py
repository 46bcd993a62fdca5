from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "store"
    verbose_name = "Store"

    def ready(self) -> None:
        # Sticker messages are refused unless the sender holds the pack (CONTRACT section 6):
        # messaging calls this through its content-rule hook and never imports the store.
        from messaging.content_rules import content_rule_register
        from store.selectors import sticker_send_check

        content_rule_register("sticker", sticker_send_check)
