"""Random interaction data shaped like the real datasets, for timing benchmarks (no accuracy meaning).

Items are drawn from a Zipf-like popularity law and sequence lengths from a geometric law with the
dataset's mean length (at least 5, the 5-core minimum), so history masking, padding trimming and
top-k work on realistic shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmrec.data.interactions import SequenceData


@dataclass(frozen=True)
class Shape:
    name: str
    users: int
    items: int
    mean_length: float
    max_len: int


SHAPES = {
    "beauty": Shape("Beauty-sized", 22_363, 12_101, 8.9, 50),
    "ml1m": Shape("ML-1M-sized", 6_040, 3_416, 165.5, 200),
    "large": Shape("large", 20_000, 100_000, 10.0, 50),
}


def random_sequences(users: int, items: int, mean_length: float, seed: int = 0) -> SequenceData:
    """``users`` sequences over items 1..``items``; lengths >= 5 with mean ``mean_length``."""
    rng = np.random.default_rng(seed)
    extra = max(mean_length - 5.0, 1e-3)
    lengths = 5 + rng.geometric(1.0 / (extra + 1.0), size=users) - 1
    offsets = np.zeros(users + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    popularity /= popularity.sum()
    drawn = rng.choice(items, size=int(offsets[-1]), p=popularity) + 1
    ids = rng.permutation(items) + 1  # popular ids spread over the id range
    return SequenceData(
        items=ids[drawn - 1].astype(np.int64),
        offsets=offsets,
        user_ids=[str(u) for u in range(users)],
        item_ids=[str(i) for i in range(1, items + 1)],
    )
