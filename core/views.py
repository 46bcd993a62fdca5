"""Operational endpoints: health (CONTRACT section 1), metrics, and the API's catch-all 404."""

import asyncio
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST

from core.degraded import redis_answered
from core.exceptions import json_error
from core.metrics import exposition


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


CHANNEL_LAYER_TIMEOUT = 3.0  # seconds; a Redis that hangs fails the check instead of the prober


async def _round_trip_channel_layer() -> None:
    layer = get_channel_layer()
    if isinstance(layer, RedisPubSubChannelLayer):
        # One PUBLISH proves Redis takes the layer's traffic. A round trip would leave a
        # subscription behind in this process at every probe (the pub/sub layer only
        # unsubscribes a channel whose receive is cancelled).
        await layer.send("healthz", {"type": "healthz"})
        return
    channel = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz", "token": token})
    message = await layer.receive(channel)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


async def _check_channel_layer_in_time() -> None:
    await asyncio.wait_for(_round_trip_channel_layer(), CHANNEL_LAYER_TIMEOUT)


def _check_channel_layer() -> None:
    """While Redis is down (degraded mode, CONTRACT section 1) this fails: 503 naming `channel_layer`."""
    async_to_sync(_check_channel_layer_in_time)()


HEALTH_CHECKS = {"database": _check_database, "channel_layer": _check_channel_layer}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in HEALTH_CHECKS.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # a health check reports any failure, it never raises
            checks[name] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    if checks.get("channel_layer") == "ok" and settings.REDIS_URL:
        redis_answered(settings.REDIS_URL)  # back: end degraded mode now, not at the next retry
    return JsonResponse({"status": "ok" if ok else "error", "checks": checks}, status=200 if ok else 503)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not constant_time_compare(given, f"Bearer {token}"):
        return HttpResponse(
            "unauthorized\n", status=401, content_type="text/plain", headers={"WWW-Authenticate": "Bearer"}
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


@csrf_exempt  # it changes nothing: an unsafe method on an unknown path is 404, not a CSRF 403
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return json_error("not_found", "Not found.", 404)
