"""The Idempotency-Key mechanism (CONTRACT section 2), on a stand-in endpoint."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from core.idempotency import idempotency_records_purge
from core.models import IdempotencyRecord
from tests.core import urls as test_urls

pytestmark = pytest.mark.urls("tests.core.urls")


def created_groups():
    """The groups the stand-in endpoint created (migrations create permission groups too)."""
    return Group.objects.filter(name__startswith=test_urls.PREFIX)


URL = "/api/v1/test/groups"


def post(client: APIClient, body: dict, key: str | None = "k-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, body, format="json", **headers)


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
