"""How a red packet's total is cut into shares (CONTRACT section 6), drawn when it is sent.

Random mode is fair: the shares are a uniformly random composition of `total` into `count` parts
of at least 1 coin. Choosing `count - 1` distinct cut points uniformly among the `total - 1` gaps
between coins and taking the lengths between them gives every composition the same probability;
that distribution is exchangeable (any reordering of the shares is equally likely), so every place
in the claim queue has the same expected share, total / count, and the same chance of the
largest. The naive "random between 1 and what is left" split is not: the first claimer expects
about half the packet (tests/redpackets/test_splitting.py shows the difference).

The source of randomness is `secrets.SystemRandom()` (the operating system's CSPRNG), so nobody
can predict the shares from earlier ones; tests inject a seeded `random.Random` instead.
"""

import itertools
import random
import secrets

_SYSTEM_RANDOM = secrets.SystemRandom()


def split_equal(total: int, count: int) -> list[int]:
    """`count` equal shares; the caller checked that `count` divides `total`."""
    if count < 1 or total % count:
        raise ValueError("equal shares need a total divisible by the count")
    return [total // count] * count


def split_random(total: int, count: int, rng: random.Random | None = None) -> list[int]:
    """A uniformly random composition of `total` into `count` shares of at least 1 coin."""
    if count < 1 or total < count:
        raise ValueError("every share needs at least 1 coin")
    rng = rng or _SYSTEM_RANDOM
    # `range` is a sequence: sample() draws from it without building a list of `total` items.
    cuts = sorted(rng.sample(range(1, total), count - 1))
    bounds = [0, *cuts, total]
    return [high - low for low, high in itertools.pairwise(bounds)]


def split_shares(total: int, count: int, mode: str, rng: random.Random | None = None) -> list[int]:
    """The shares of a packet in claim order (`mode` is "random" or "equal")."""
    if mode == "equal":
        return split_equal(total, count)
    if mode == "random":
        return split_random(total, count, rng)
    raise ValueError(f"unknown mode {mode!r}")
