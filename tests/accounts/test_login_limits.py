"""The failed-login limits (CONTRACT section 2) under concurrency and across spellings of one
account: an attempt is counted before the password is checked, and counted against the account
itself, not against the text someone typed."""

import threading
import time
from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connection

from accounts import services
from accounts.errors import InvalidCredentials, LoginLockedOut
from accounts.models import User
from tests.factories import PASSWORD

TOKEN = "/api/v1/auth/token"
LONG_S_SAM = "\u017fam"


class CountingBackend(ModelBackend):
    """Django's backend, counting the password checks that reach it and taking its time, so
    parallel guesses overlap."""

    calls = 0
    lock = threading.Lock()

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None, **kw: Any):
        with CountingBackend.lock:
            CountingBackend.calls += 1
        time.sleep(0.05)
        return super().authenticate(request, username=username, password=password, **kw)


@pytest.fixture
def counting_backend(settings: Any) -> type[CountingBackend]:
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.CountingBackend"]
    CountingBackend.calls = 0
    return CountingBackend


def _login(username: str, password: str, address: str = "10.1.1.1") -> str:
    try:
        services.login_with_password(username=username, password=password, address=address)
    except LoginLockedOut:
        return "locked"
    except InvalidCredentials:
        return "invalid"
    return "ok"


def _login_in_thread(username: str, password: str, address: str = "10.1.1.1") -> str:
    try:
        return _login(username, password, address)
    finally:
        connection.close()


def _in_parallel(count: int, target: Any, *args: Any) -> list[str]:
    results: list[str] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        barrier.wait()
        outcome = target(*args)
        results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_reach_the_password_check_at_most_five_times(counting_backend, make_user):
    # given
    user = make_user(username="target")
    # when: 20 wrong guesses at once
    results = _in_parallel(20, _login_in_thread, user.username, "wrong-password-1")
    # then: at most five were checked, the rest were refused before checking
    assert counting_backend.calls <= 5
    assert results.count("invalid") == counting_backend.calls
    assert results.count("locked") == 20 - counting_backend.calls
    # and the right password is refused too
    assert _login(user.username, PASSWORD) == "locked"


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_from_one_address_reach_the_check_at_most_the_address_limit(
    counting_backend, make_user, settings
):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 4
    people = [make_user() for _ in range(12)]
    results: list[str] = []
    barrier = threading.Barrier(len(people))

    def guess(person: User) -> None:
        barrier.wait()
        results.append(_login_in_thread(person.username, "wrong-password-1", "10.2.2.2"))

    threads = [threading.Thread(target=guess, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counting_backend.calls <= 4
    assert results.count("locked") == len(people) - counting_backend.calls


def test_a_refused_attempt_does_not_check_the_password(counting_backend, user):
    for _ in range(5):
        assert _login(user.username, "wrong-password-1") == "invalid"
    calls = counting_backend.calls

    assert _login(user.username, PASSWORD) == "locked"
    assert counting_backend.calls == calls


def test_a_success_gives_back_the_addresss_hit(make_user, settings):
    # given: three attempts allowed per address; one failure, then two successes
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    people = [make_user() for _ in range(3)]
    assert _login(people[0].username, "wrong-password-1") == "invalid"
    assert _login(people[1].username, PASSWORD) == "ok"
    assert _login(people[2].username, PASSWORD) == "ok"
    # then: only the failure counted, so two more failures are checked before the address locks
    assert _login(people[0].username, "wrong-password-1", "10.1.1.1") == "invalid"
    assert _login(people[1].username, "wrong-password-1", "10.1.1.1") == "invalid"
    assert _login(people[2].username, PASSWORD, "10.1.1.1") == "locked"


@pytest.mark.django_db
def test_failures_with_two_spellings_of_one_account_count_together(anon, make_user):
    # given: an account, and a spelling the database matches to it although Python's lower()
    # keeps it apart (U+017F LATIN SMALL LETTER LONG S, whose upper case is 'S')
    user = make_user(username="sam")
    other_spelling = LONG_S_SAM
    if not User.objects.filter(username__iexact=other_spelling).exists():
        pytest.skip("this database matches usernames ignoring ASCII case only")
    assert other_spelling.lower() != user.username.lower()
    # when: five failures, split between the two spellings
    for name in ["sam", LONG_S_SAM, "sam", LONG_S_SAM, LONG_S_SAM]:
        r = anon.post(TOKEN, {"username": name, "password": "wrong-password-1"}, format="json")
        assert r.status_code == 400
    # then: both spellings are locked out
    for name in ["sam", LONG_S_SAM]:
        r = anon.post(TOKEN, {"username": name, "password": PASSWORD}, format="json")
        assert r.status_code == 429, name


@pytest.mark.django_db
def test_account_lock_is_keyed_by_the_account_not_the_typed_name(make_user):
    # Service level, portable: whatever the database matches as one account shares one count.
    user = make_user(username="Walter")
    for name in ["walter", "WALTER", "Walter", "wALTER", "walteR"]:
        assert _login(name, "wrong-password-1") == "invalid"
    assert _login("walter", PASSWORD) == "locked"
    assert _login(user.username, PASSWORD) == "locked"


@pytest.mark.django_db
def test_unknown_names_are_counted_by_a_normalised_name(db):
    # 'K' (KELVIN SIGN) and 'ß' normalise to 'k' and 'ss'
    for name in ["ghost-kass", "GHOST-KASS", "ghost-\u212aaß", "Ghost-Kaß", "ghost-kass"]:
        assert _login(name, "wrong-password-1") == "invalid"
    assert _login("ghost-kass", "wrong-password-1") == "locked"


@pytest.mark.django_db
def test_a_locked_account_does_not_lock_a_different_name(make_user):
    victim, other = make_user(), make_user()
    for _ in range(5):
        _login(victim.username, "wrong-password-1")
    assert _login(other.username, PASSWORD) == "ok"
