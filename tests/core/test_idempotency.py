"""The Idempotency-Key mechanism (CONTRACT section 2), on a stand-in endpoint."""

import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import include, path
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from coins.models import Topup
from core.idempotency import idempotency_records_purge, idempotent
from core.models import IdempotencyRecord
from core.routes import api_path
from tests.coins.payment_support import make_package
from tests.core import urls as test_urls

pytestmark = pytest.mark.urls("tests.core.urls")


def created_groups():
    """The groups the stand-in endpoint created (migrations create permission groups too)."""
    return Group.objects.filter(name__startswith=test_urls.PREFIX)


URL = "/api/v1/test/groups"


def post(client: APIClient, body: dict, key: str | None = "k-1", url: str = URL):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body, format="json", **headers)


class ThingActApi(APIView):
    """A stand-in money endpoint on a route with an id, written both ways (core.routes.api_path)."""

    @idempotent
    def post(self, request: Request, thing_id: int) -> Response:
        Group.objects.create(name=f"{test_urls.PREFIX}thing{thing_id}-{time.monotonic_ns()}")
        return Response({"thing": thing_id, "groups": created_groups().count()}, status=201)


# This module is also a URLconf (tests marked `urls(__name__)`): the stand-in above, then the rest.
urlpatterns = [
    *api_path("api/v1/test/things/<id:thing_id>/act", ThingActApi.as_view(), "test-thing-act"),
    path("", include("tests.core.urls")),
]


def test_missing_key_is_refused(api):
    r = post(api, {"name": "a"}, key=None)
    assert r.status_code == 400
    assert r.json()["code"] == "idempotency_key_required"
    assert not created_groups().exists()


@pytest.mark.parametrize("key", ["x" * 256, "tab\there", "caf\u00e9"])
def test_malformed_key_is_refused(api, key):
    r = api.post(URL, {"name": "a"}, format="json", HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin1"))
    assert r.status_code == 400
    assert r.json()["code"] == "invalid"
    assert not created_groups().exists()


def test_repeat_replays_first_answer_without_second_effect(api):
    first = post(api, {"name": "a"})
    second = post(api, {"name": "a"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() == {"created": "a", "groups": 1}
    assert second.content == first.content  # byte for byte (jsonb would reorder the keys)
    assert second["Idempotent-Replayed"] == "true"
    assert created_groups().count() == 1


def test_same_body_after_json_parsing_counts_as_same(api):
    post(api, {"name": "a", "delay": 0})
    r = api.post(
        URL, data='{"delay": 0,   "name": "a"}', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert r.status_code == 201
    assert created_groups().count() == 1


def test_same_key_with_other_body_is_409(api):
    post(api, {"name": "a"})
    r = post(api, {"name": "b"})
    assert r.status_code == 409
    assert r.json()["code"] == "idempotency_key_reused"
    assert created_groups().count() == 1


def test_key_is_scoped_to_user(make_user, client_for):
    a, b = client_for(make_user()), client_for(make_user())
    assert post(a, {"name": "a"}).status_code == 201
    assert post(b, {"name": "a"}).json() == {"created": "a", "groups": 2}
    assert created_groups().count() == 2


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/api/v1/test/things/7/act", "/api/v1/test/things/7/act/"),
        ("/api/v1/test/things/7/act/", "/api/v1/test/things/7/act"),
    ],
)
def test_a_path_with_or_without_its_trailing_slash_is_one_scope(api, first, second):
    # given a first request on one spelling of the route
    assert post(api, {"n": 1}, url=first).status_code == 201
    # when the same key and body come on the other spelling
    again = post(api, {"n": 1}, url=second)
    # then it is a replay of the first: one effect, one stored key
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == {"thing": 7, "groups": 1}
    assert created_groups().count() == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.urls(__name__)
def test_the_same_key_with_another_body_on_the_other_spelling_is_409(api):
    post(api, {"n": 1}, url="/api/v1/test/things/7/act")
    r = post(api, {"n": 2}, url="/api/v1/test/things/7/act/")
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"


@pytest.mark.urls(__name__)
def test_two_ids_on_one_route_are_two_scopes(api):
    a = post(api, {"n": 1}, url="/api/v1/test/things/7/act")
    b = post(api, {"n": 1}, url="/api/v1/test/things/8/act/")
    assert (a.status_code, b.status_code) == (201, 201)
    assert not b.has_header("Idempotent-Replayed")
    assert (a.json()["thing"], b.json()["thing"]) == (7, 8)
    assert created_groups().count() == 2


def test_top_up_with_and_without_trailing_slash_is_one_order(api):
    package = make_package()
    first = post(api, {"package": package.pk}, key="order-1", url="/api/v1/coins/topups")
    second = post(api, {"package": package.pk}, key="order-1", url="/api/v1/coins/topups/")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert Topup.objects.count() == 1


def test_4xx_answer_is_kept_and_its_effect_rolled_back(api):
    first = post(api, {"name": "refuse"})
    assert first.status_code == 409 and first.json()["code"] == "refused"
    assert not created_groups().exists()
    again = post(api, {"name": "refuse"})
    assert again.status_code == 409 and again["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.get().status_code == 409


def test_5xx_is_not_kept_and_a_retry_runs_anew(api, monkeypatch):
    monkeypatch.setitem(test_urls.failures_left, "boom", 1)
    crashed = post(api, {"name": "boom"})
    assert crashed.status_code == 500 and crashed.json()["code"] == "server_error"
    assert not created_groups().exists()
    assert not IdempotencyRecord.objects.exists()
    retried = post(api, {"name": "boom"})
    assert retried.status_code == 201 and retried.json() == {"created": "boom", "groups": 1}


def test_unauthenticated_is_401_before_the_key_is_looked_at(anon):
    r = post(anon, {"name": "a"}, key=None)
    assert r.status_code == 401


def test_purge_keeps_keys_for_24_hours(api):
    post(api, {"name": "a"}, key="new")
    post(api, {"name": "b"}, key="old")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_records_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def _race(clients_and_bodies: list[tuple[APIClient, dict]], key: str) -> list:
    results: list = [None] * len(clients_and_bodies)
    barrier = threading.Barrier(len(clients_and_bodies))

    def run(i: int, client: APIClient, body: dict) -> None:
        try:
            barrier.wait()
            results[i] = post(client, body, key=key)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c, b)) for i, (c, b) in enumerate(clients_and_bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_repeats_wait_for_the_first_and_replay_it(user, client_for):
    # given: six copies of one request, the first of which holds its transaction open a while
    clients = [(client_for(user), {"name": "race", "delay": 0.3}) for _ in range(6)]
    # when they all arrive at once
    results = _race(clients, key="race-key")
    # then exactly one ran, and every answer is that one's
    assert [r.status_code for r in results] == [201] * 6
    assert {r.json()["groups"] for r in results} == {1}
    assert sum(1 for r in results if r.has_header("Idempotent-Replayed")) == 5
    assert created_groups().count() == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_different_bodies_one_wins_others_409(user, client_for):
    clients = [(client_for(user), {"name": f"body{i}", "delay": 0.2}) for i in range(4)]
    results = _race(clients, key="shared-key")
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409, 409, 409]
    assert all(r.json()["code"] == "idempotency_key_reused" for r in results if r.status_code == 409)
    assert created_groups().count() == 1
