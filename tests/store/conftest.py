"""Fixtures of the store tests: the seeded catalog; every test ends with the ledger still whole."""

from collections.abc import Iterator

import pytest

from coins.audit import ledger_report
from store.demo import seed_store_catalog


@pytest.fixture(autouse=True)
def _ledger_stays_whole(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker or {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db:
        return
    report = ledger_report()
    assert report.ok, report.summary()


@pytest.fixture
def catalog(db: None) -> None:
    seed_store_catalog()
