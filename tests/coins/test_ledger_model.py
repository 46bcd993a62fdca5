"""A Hypothesis state machine against an independent in-memory model of the ledger: after every
step the database agrees with the model on what was accepted, what was refused, and every
balance; a refused operation leaves nothing behind."""

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from coins.errors import AlreadyReversed, InsufficientFunds, NotReversible
from coins.ledger import ledger_reverse, wallet_balance
from coins.models import Entry, Transaction
from tests.coins.helpers import grant, transfer
from tests.factories import UserFactory

PEOPLE = 3
_names = itertools.count()


class LedgerModel(RuleBasedStateMachine):
    """The model: balances per person, the postings it accepted, and which were reversed."""

    @initialize()
    def setup(self) -> None:
        self.users = [UserFactory(username=f"model{next(_names)}") for _ in range(PEOPLE)]
        self.balances = [0] * PEOPLE
        self.posted: list[tuple[int, list[tuple[int, int]]]] = []  # (txn id, [(person, +/-amount)])
        self.reversed: set[int] = set()
        self.keys: dict[str, int] = {}
        self.transactions_before = Transaction.objects.count()
        self.accepted = 0

    def _apply(self, txn_id: int, deltas: list[tuple[int, int]]) -> None:
        for person, delta in deltas:
            self.balances[person] += delta
        self.posted.append((txn_id, deltas))
        self.accepted += 1

    def _refused_leaves_nothing(self, error: type[Exception], action) -> None:
        before = (Transaction.objects.count(), Entry.objects.count())
        with pytest.raises(error):
            action()
        assert (Transaction.objects.count(), Entry.objects.count()) == before

    @rule(person=st.integers(0, PEOPLE - 1), amount=st.integers(1, 50))
    def grant(self, person: int, amount: int) -> None:
        txn = grant(self.users[person], amount)
        self._apply(txn.pk, [(person, amount)])

    @rule(
        a=st.integers(0, PEOPLE - 1),
        b=st.integers(0, PEOPLE - 1),
        amount=st.integers(1, 80),
        key=st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"])),
    )
    def transfer(self, a: int, b: int, amount: int, key: str | None) -> None:
        if a == b:
            return
        ledger_key = f"{self.users[0].pk}:{key}" if key else None
        if ledger_key in self.keys:
            # a retry: the first result comes back, nothing moves
            before = list(self.balances)
            txn = transfer(self.users[a], self.users[b], amount, key=ledger_key)
            assert txn.pk == self.keys[ledger_key] and txn.replayed
            assert self.balances == before
            return
        if self.balances[a] < amount:
            self._refused_leaves_nothing(
                InsufficientFunds, lambda: transfer(self.users[a], self.users[b], amount, key=ledger_key)
            )
            return
        txn = transfer(self.users[a], self.users[b], amount, key=ledger_key)
        if ledger_key:
            self.keys[ledger_key] = txn.pk
        self._apply(txn.pk, [(a, -amount), (b, amount)])

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        if not self.posted:
            return
        txn_id, deltas = data.draw(st.sampled_from(self.posted))
        original = Transaction.objects.get(pk=txn_id)
        if original.kind == Transaction.Kind.REVERSAL:
            self._refused_leaves_nothing(NotReversible, lambda: ledger_reverse(original=original))
            return
        if txn_id in self.reversed:
            self._refused_leaves_nothing(AlreadyReversed, lambda: ledger_reverse(original=original))
            return
        mirrored = [(person, -delta) for person, delta in deltas]
        if any(self.balances[person] + delta < 0 for person, delta in mirrored):
            self._refused_leaves_nothing(InsufficientFunds, lambda: ledger_reverse(original=original))
            return
        reversal = ledger_reverse(original=original, reason="model")
        self.reversed.add(txn_id)
        self._apply(reversal.pk, mirrored)

    @invariant()
    def database_agrees(self) -> None:
        if not hasattr(self, "users"):
            return
        assert [wallet_balance(u) for u in self.users] == self.balances
        assert Transaction.objects.count() - self.transactions_before == self.accepted


@pytest.mark.django_db
def test_ledger_agrees_with_its_model():
    run_state_machine_as_test(
        LedgerModel,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
