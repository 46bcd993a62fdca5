"""Celery tasks of red packets. Thin: ids in, one service call each, safe to run twice (tasks are
acknowledged late, so a lost worker means a redelivery: PITFALLS, Celery).

- `expire_red_packets`: every 5 minutes (beat), expires each open packet past its deadline, one
  transaction per packet; `red_packet_expire` locks the packet and checks its state, and its
  refund's ledger key is `red_packet_refund:<id>`, so two overlapping runs refund each packet once.
- `expire_red_packet`: the same for one packet id.
"""

import logging

from celery import shared_task

from redpackets.selectors import red_packets_due_for_expiry
from redpackets.services import red_packet_expire

logger = logging.getLogger("huddle.redpackets")


@shared_task(acks_late=True)
def expire_red_packet(red_packet_id: int) -> bool:
    """Expire one packet if it is due. Returns whether this run expired it."""
    return red_packet_expire(red_packet_id=red_packet_id) is not None


@shared_task(acks_late=True)
def expire_red_packets() -> int:
    """Expire every due packet (up to 1000 a run; the next run takes the rest). Returns how many
    this run expired."""
    expired = 0
    for red_packet_id in red_packets_due_for_expiry():
        try:
            expired += red_packet_expire(red_packet_id=red_packet_id) is not None
        except Exception:
            # One failing packet must not hold up the others; it is due again next run.
            logger.exception("expiring red packet %s failed", red_packet_id)
    return expired
