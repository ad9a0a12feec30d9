"""Sampled-ranking candidates: per user, negatives the target is ranked against (``protocol=sampled``).

Negatives are items the user never interacted with (anywhere in the sequence, so never the validation or
test target), drawn without replacement uniformly or in proportion to the items' training counts, from a
seeded generator of their own (independent of the run's seed). The same negatives serve validation and
test (as in S3-Rec's sampled evaluation). They are stored in the dataset cache keyed by (dataset
fingerprint, sampling, negatives, seed), so every model and every run ranks against identical arrays; or
they are read from an S3-Rec ``Name_sample.txt`` file (``user neg1 neg2 ...`` a line, ids as in Name.txt).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from llmrec.data.interactions import SequenceData
from llmrec.data.sources.files import read_lines
from llmrec.errors import ConfigError, DataError
from llmrec.io import write_bytes_atomic

log = logging.getLogger(__name__)

SAMPLINGS = ("uniform", "popularity")
_CHUNK_CELLS = 1 << 24  # users x items scored per chunk when drawing (a 64 MiB float32 matrix)


def _user_item_keys(data: SequenceData) -> np.ndarray:
    """Sorted unique ``user * (N + 1) + item`` keys of every interaction: one set lookup per check."""
    users = np.repeat(np.arange(data.num_users), data.lengths())
    return np.unique(users * (data.num_items + 1) + data.items)


def _weights(data: SequenceData, sampling: str, train_counts: np.ndarray) -> np.ndarray:
    if sampling not in SAMPLINGS:
        raise ConfigError(f"protocol.sampling must be one of {list(SAMPLINGS)}, got {sampling!r}")
    weights = np.ones(data.num_items + 1) if sampling == "uniform" else train_counts.astype(np.float64)
    weights[0] = 0.0  # padding is never a candidate
    return weights


def check_feasible(data: SequenceData, weights: np.ndarray, negatives: int) -> None:
    """Every user needs ``negatives`` items with positive weight outside their own sequence."""
    if isinstance(negatives, bool) or not isinstance(negatives, int) or negatives < 1:
        raise ConfigError(f"protocol.negatives must be a positive integer, got {negatives!r}")
    keys = _user_item_keys(data)  # each (user, item) pair once, so repeats are not counted twice
    positive = weights > 0
    own = positive[keys % (data.num_items + 1)].astype(np.int64)
    available = int(positive.sum()) - np.bincount(keys // (data.num_items + 1), own, data.num_users).astype(
        np.int64
    )
    short = available < negatives
    if short.any():
        raise ConfigError(
            f"protocol.negatives={negatives} is more than the items never interacted with"
            f"{' (and with training counts)' if not positive[1:].all() else ''} of {int(short.sum())} of "
            f"{data.num_users} users: at most {int(available.min())} negatives are possible for every "
            f"user; lower protocol.negatives"
        )


def sample_negatives(
    data: SequenceData, negatives: int, sampling: str, seed: int, train_counts: np.ndarray
) -> np.ndarray:
    """(U, negatives) items per user, none of them in the user's sequence, drawn without replacement
    with probability proportional to the weights (Gumbel top-k: the keys ``log w + Gumbel`` of the
    unseen items, the largest ``negatives`` kept, is sampling without replacement by weight)."""
    weights = _weights(data, sampling, train_counts)
    check_feasible(data, weights, negatives)
    rng = np.random.default_rng(seed)
    log_weights = np.log(weights, out=np.full_like(weights, -np.inf), where=weights > 0)
    rows = max(1, _CHUNK_CELLS // (data.num_items + 1))
    out = np.empty((data.num_users, negatives), dtype=np.int64)
    for first in range(0, data.num_users, rows):
        users = np.arange(first, min(first + rows, data.num_users))
        keys = log_weights + rng.gumbel(size=(len(users), data.num_items + 1))
        starts, ends = data.offsets[users], data.offsets[users + 1]
        owner = np.repeat(np.arange(len(users)), ends - starts)
        keys[owner, data.items[starts[0] : ends[-1]]] = -np.inf  # the user's own items
        top = np.argpartition(-keys, negatives - 1, axis=1)[:, :negatives]
        order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
        out[users] = np.take_along_axis(top, order, axis=1)
    return out


def check_candidates(data: SequenceData, candidates: np.ndarray, origin: str) -> np.ndarray:
    """Refuse candidates that are not (users, negatives) item ids outside each user's own sequence."""
    if candidates.ndim != 2 or candidates.shape[0] != data.num_users or candidates.shape[1] < 1:
        raise DataError(
            f"{origin}: expected negatives for {data.num_users} users, got an array of shape "
            f"{candidates.shape}; it belongs to another dataset"
        )
    if candidates.min() < 1 or candidates.max() > data.num_items:
        raise DataError(f"{origin}: item ids outside 1..{data.num_items}; it belongs to another dataset")
    keys = np.arange(data.num_users)[:, None] * (data.num_items + 1) + candidates
    own = np.isin(keys, _user_item_keys(data))
    if own.any():
        user = int(np.argwhere(own)[0][0])
        raise DataError(
            f"{origin}: {int(own.any(axis=1).sum())} user(s) have one of their own items among the "
            f"negatives (first: user {data.user_ids[user]!r}); negatives must be items the user never had"
        )
    return candidates


def stored_negatives(
    data: SequenceData,
    fingerprint: str,
    settings: tuple[int, str, int],
    train_counts: np.ndarray,
    cache_dir: Path | None,
) -> np.ndarray:
    """The (U, negatives) candidates of ``settings = (negatives, sampling, seed)``: read from the cache,
    else drawn and stored there (atomically), so later runs and other models read the same array."""
    negatives, sampling, seed = settings
    path = None if cache_dir is None else cache_dir / f"{fingerprint}-{sampling}-{negatives}-{seed}.npy"
    if path is not None and path.is_file():
        try:
            return check_candidates(data, np.load(path, allow_pickle=False), str(path))
        except (OSError, ValueError, DataError) as error:
            log.warning("%s is unusable (%s); drawing the negatives again", path, error)
    drawn = sample_negatives(data, negatives, sampling, seed, train_counts)
    if path is not None:
        buffer = io.BytesIO()
        np.save(buffer, drawn, allow_pickle=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, buffer.getbuffer())
    return drawn


def read_sample_file(path: Path, data: SequenceData) -> np.ndarray:
    """(U, negatives) candidates from an S3-Rec ``Name_sample.txt``: ``user neg1 neg2 ...`` a line, user
    and item ids as in ``Name.txt``; every user of the dataset needs one line with the same count."""
    if not path.is_file():
        raise ConfigError(f"protocol.sample_file={path} is not a file; give the S3-Rec Name_sample.txt path")
    user_index = {user: u for u, user in enumerate(data.user_ids)}
    item_index = {item: i + 1 for i, item in enumerate(data.item_ids)}
    rows: dict[int, list[int]] = {}
    for number, line in read_lines(path):
        user, *items = line.split()
        if user not in user_index:
            raise DataError(f"{path}:{number}: user {user!r} is not in the dataset; wrong sample file?")
        unknown = next((item for item in items if item not in item_index), None)
        if unknown is not None or not items:
            raise DataError(
                f"{path}:{number}: item {unknown!r} is not in the dataset (after k-core), or the line has no "
                f"negatives; the sample file does not match the dataset's Name.txt"
            )
        rows[user_index[user]] = [item_index[item] for item in items]
    missing = data.num_users - len(rows)
    if missing:
        raise DataError(f"{path}: {missing} of {data.num_users} users have no line; wrong sample file?")
    if len({len(row) for row in rows.values()}) > 1:
        raise DataError(f"{path}: lines hold different numbers of negatives; every user needs the same count")
    return check_candidates(data, np.array([rows[u] for u in range(data.num_users)]), str(path))
