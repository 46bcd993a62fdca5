"""Test-only routes: the real API plus views that exercise core plumbing (idempotency, 500s)."""

import threading
import time

from django.contrib.auth.models import Group
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import Conflict
from core.idempotency import idempotent

PREFIX = "idempotency-test:"
failures_left = {"boom": 0}
_lock = threading.Lock()


class GroupCreateApi(APIView):
    """A stand-in for a money endpoint: creates a Group named by the body."""

    @idempotent
    def post(self, request: Request) -> Response:
        name = request.data["name"]
        Group.objects.create(name=f"{PREFIX}{name}-{time.monotonic_ns()}")
        time.sleep(float(request.data.get("delay", 0)))
        if name == "refuse":
            raise Conflict("Refused on purpose.", code="refused")
        with _lock:
            if name == "boom" and failures_left["boom"] > 0:
                failures_left["boom"] -= 1
                raise RuntimeError("simulated crash")
        return Response(
            {"created": name, "groups": Group.objects.filter(name__startswith=f"{PREFIX}{name}").count()},
            status=201,
        )


class CrashApi(APIView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("simulated crash")


def plain_crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("simulated crash in a plain view")


def plain_redis_down(request: HttpRequest) -> HttpResponse:
    raise RedisConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")


urlpatterns = [
    path("api/v1/test/groups", GroupCreateApi.as_view()),
    path("api/v1/test/crash", CrashApi.as_view()),
    path("api/v1/test/plain-crash", plain_crash),
    path("api/v1/test/plain-redis-down", plain_redis_down),
    path("", include("config.urls")),
]
