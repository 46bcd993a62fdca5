"""`GET coins/topups` (CONTRACT section 5): the caller's top-ups, newest first, paginated like the
statement; the POST on the same URL stays money-throttled, the list is not."""

import pytest

from coins.models import Topup
from tests.coins.payment_support import deliver, event_for, make_package, make_topup

pytestmark = pytest.mark.django_db

URL = "/api/v1/coins/topups"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def five(user) -> list[Topup]:
    """Five of the user's top-ups, oldest first."""
    package = make_package()
    return [make_topup(user, package) for _ in range(5)]


def test_lists_the_callers_top_ups_newest_first(api, user, make_user):
    # given: two top-ups of the caller (one paid) and one of someone else
    older = make_topup(user, make_package(60, 600))
    newer = make_topup(user, make_package(300, 3000))
    make_topup(make_user())
    deliver(event_for(older, "payment.succeeded", "pay_older"))

    # when
    r = api.get(URL)

    # then
    assert r.status_code == 200
    assert r.json() == {
        "results": [
            {
                "id": newer.pk,
                "status": "pending",
                "coins": 300,
                "price": {"amount_minor": 3000, "currency": "CNY"},
                "checkout_url": f"/pay/sandbox/{newer.pk}/",
                "refund_status": "",
                "created_at": r.json()["results"][0]["created_at"],
            },
            {
                "id": older.pk,
                "status": "paid",
                "coins": 60,
                "price": {"amount_minor": 600, "currency": "CNY"},
                "checkout_url": None,
                "refund_status": "",
                "created_at": r.json()["results"][1]["created_at"],
            },
        ],
        "has_more": False,
    }


def test_no_top_ups_is_an_empty_page(api):
    assert api.get(URL).json() == {"results": [], "has_more": False}


def test_another_users_top_ups_are_not_listed(api, make_user):
    make_topup(make_user())
    assert ids(api.get(URL)) == []


def test_pages_with_before_and_after(api, five):
    newest_first = [t.pk for t in reversed(five)]

    first = api.get(URL, {"limit": 2})
    assert ids(first) == newest_first[:2] and first.json()["has_more"] is True

    second = api.get(URL, {"limit": 2, "before": newest_first[1]})
    assert ids(second) == newest_first[2:4] and second.json()["has_more"] is True

    last = api.get(URL, {"limit": 2, "before": newest_first[3]})
    assert ids(last) == newest_first[4:] and last.json()["has_more"] is False

    newer = api.get(URL, {"limit": 2, "after": newest_first[4]})
    assert ids(newer) == [newest_first[2], newest_first[3]] and newer.json()["has_more"] is True


def test_the_default_page_is_50_and_the_trailing_slash_works(api, user):
    package = make_package()
    Topup.objects.bulk_create(
        Topup(user=user, package=package, coins=60, price_minor=600, currency="CNY") for _ in range(51)
    )
    r = api.get(f"{URL}/")
    assert len(ids(r)) == 50 and r.json()["has_more"] is True


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"before": "x"}, {"before": 1, "after": 2}])
def test_bad_cursor_is_400(api, query):
    r = api.get(URL, query)
    assert r.status_code == 400 and r.json()["code"] == "invalid"


def test_needs_login(anon):
    r = anon.get(URL)
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_the_list_is_not_money_throttled_but_the_order_is(api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "money": "2/minute"}
    package = make_package()

    listed = [api.get(URL).status_code for _ in range(5)]
    ordered = [
        api.post(URL, {"package": package.pk}, format="json", HTTP_IDEMPOTENCY_KEY=f"k{i}").status_code
        for i in range(3)
    ]

    assert listed == [200] * 5
    assert ordered == [201, 201, 429]


def test_schema_documents_the_list(anon):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = schema["paths"]["/api/v1/coins/topups"]
    listing = operations["get"]
    assert listing["operationId"] == "coins_topups_list"
    assert {p["name"] for p in listing["parameters"]} >= {"before", "after", "limit"}
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][page]["properties"]) == {"results", "has_more"}
    assert "Idempotency-Key" not in {p["name"] for p in listing["parameters"]}
    assert "Idempotency-Key" in {p["name"] for p in operations["post"]["parameters"]}
