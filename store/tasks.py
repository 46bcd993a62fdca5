"""The store's periodic work: VIP auto-renewal (every 15 minutes, config.settings beat)."""

from celery import shared_task

from store.services import vip_renewals_run


@shared_task(acks_late=True)
def renew_memberships() -> dict[str, int]:
    """Renew every due VIP membership once per period; safe to run twice or concurrently (each
    renewal locks its membership row and re-checks that it is due)."""
    return vip_renewals_run()
