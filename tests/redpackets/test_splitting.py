"""Share splitting (redpackets.splitting): exact sums, at least 1 coin a share, and fairness to
every place in the claim queue, tested statistically with a fixed seed."""

import random
import secrets
from collections import Counter
from collections.abc import Callable

import pytest

from redpackets import splitting
from redpackets.splitting import split_equal, split_random, split_shares

SEED = 20240101
TRIALS = 20_000
TOTAL, COUNT = 100, 5
# The fair mean is TOTAL / COUNT = 20; one position's sample mean has a standard error of about
# 0.11 coins here, so 0.6 is more than five standard errors, while the biased split is off by ~28.
TOLERANCE = 0.6

Splitter = Callable[[int, int, random.Random], list[int]]


def biased_split(total: int, count: int, rng: random.Random) -> list[int]:
    """The naive split: each claimer draws between 1 and what is left (keeping 1 coin for each one
    still to come); the last takes the rest. Sums are right, but early claimers expect far more."""
    shares = []
    left = total
    for remaining in range(count, 1, -1):
        share = rng.randint(1, left - (remaining - 1))
        shares.append(share)
        left -= share
    return [*shares, left]


def position_means(splitter: Splitter, *, seed: int = SEED) -> list[float]:
    rng = random.Random(seed)
    sums = [0] * COUNT
    for _ in range(TRIALS):
        shares = splitter(TOTAL, COUNT, rng)
        assert sum(shares) == TOTAL and len(shares) == COUNT and min(shares) >= 1
        for position, amount in enumerate(shares):
            sums[position] += amount
    return [s / TRIALS for s in sums]


def largest_deviation(splitter: Splitter) -> float:
    return max(abs(mean - TOTAL / COUNT) for mean in position_means(splitter))


def test_random_split_is_fair_to_every_place_in_the_queue():
    assert largest_deviation(split_random) < TOLERANCE


def test_the_fairness_test_catches_the_biased_split():
    means = position_means(biased_split)
    assert means[0] > 45  # the first claimer takes about half the packet
    assert largest_deviation(biased_split) > 10 * TOLERANCE


def test_random_split_gives_each_place_the_same_distribution():
    # First and last share: the same chance of a big share (>= 40) and of the minimum (1).
    rng = random.Random(SEED + 1)
    firsts, lasts = Counter(), Counter()
    for _ in range(TRIALS):
        shares = split_random(TOTAL, COUNT, rng)
        firsts["big"] += shares[0] >= 40
        lasts["big"] += shares[-1] >= 40
        firsts["one"] += shares[0] == 1
        lasts["one"] += shares[-1] == 1
    for key in ("big", "one"):
        assert abs(firsts[key] - lasts[key]) / TRIALS < 0.015, (key, firsts, lasts)


def test_random_split_is_uniform_over_compositions():
    # 5 coins in 3 shares: 6 compositions, each 1/6 of the time.
    rng = random.Random(SEED + 2)
    seen = Counter(tuple(split_random(5, 3, rng)) for _ in range(12_000))
    assert set(seen) == {(1, 1, 3), (1, 3, 1), (3, 1, 1), (1, 2, 2), (2, 1, 2), (2, 2, 1)}
    assert all(abs(n / 12_000 - 1 / 6) < 0.02 for n in seen.values()), seen


@pytest.mark.parametrize(("total", "count"), [(1, 1), (7, 1), (10, 10), (11, 10), (1_000_000, 499), (3, 2)])
def test_random_split_edge_cases_sum_exactly(total, count):
    shares = split_random(total, count)  # the system's CSPRNG
    assert len(shares) == count and sum(shares) == total and min(shares) >= 1


def test_the_default_source_is_the_systems_csprng():
    assert isinstance(splitting._SYSTEM_RANDOM, secrets.SystemRandom)


def test_equal_split():
    assert split_equal(100, 4) == [25, 25, 25, 25]
    assert split_shares(9, 3, "equal") == [3, 3, 3]
    with pytest.raises(ValueError, match="divisible"):
        split_equal(10, 3)


def test_refuses_impossible_splits():
    with pytest.raises(ValueError, match="at least 1 coin"):
        split_random(3, 4)
    with pytest.raises(ValueError, match="unknown mode"):
        split_shares(3, 1, "lucky")
