"""From raw interactions to :class:`SequenceData`: k-core filtering to a fixed point and id remapping."""

from __future__ import annotations

import logging

import numpy as np

from llmrec.data.interactions import Interactions, SequenceData
from llmrec.errors import ConfigError, DataError

log = logging.getLogger(__name__)

MIN_SEQUENCE_LENGTH = 3  # leave-one-out needs a training item, a validation and a test target


def _codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Integer code per value, numbered by first appearance, and the values in code order."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values))
    return codes, list(index)


def k_core_mask(user: np.ndarray, item: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the interactions kept when users and items with fewer than k are removed, iterated
    until nothing changes (the fixed point). Counts are interactions, so repeats count each time."""
    keep = np.ones(user.shape[0], dtype=bool)
    if k <= 1:
        return keep
    while True:
        item_count = np.bincount(item[keep], minlength=int(item.max(initial=-1)) + 1)
        user_count = np.bincount(user[keep], minlength=int(user.max(initial=-1)) + 1)
        new_keep = keep & (item_count[item] >= k) & (user_count[user] >= k)
        if new_keep.sum() == keep.sum():
            return new_keep
        keep = new_keep


def _renumber_items(item: np.ndarray, keep: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """The kept interactions' items renumbered 1..N by first appearance among them, and the original id
    of each new number (entry ``j`` of the list is item ``j + 1``)."""
    new_item, kept_item_codes = np.unique(item[keep], return_index=True)
    order = np.argsort(kept_item_codes, kind="stable")
    remap = np.zeros(int(item.max()) + 1, dtype=np.int64)
    remap[new_item[order]] = np.arange(1, len(new_item) + 1)
    return remap[item[keep]], [names[c] for c in new_item[order]]


def build_sequence_data(raw: Interactions, k_core: int = 5, name: str = "dataset") -> SequenceData:
    """Filter to the k-core, drop users with fewer than 3 interactions, remap ids by first appearance.

    Ids numbered by first appearance keep the ids of files that already use 1..N in that order (the
    S3-Rec/E4SRec ``Name.txt`` files), so item text tables keyed by those ids stay aligned.
    """
    if k_core < 0:
        raise ConfigError(f"dataset.k_core must be >= 0, got {k_core}; use 0 or 1 to disable filtering")
    lengths = np.fromiter((len(s) for s in raw.sequences), dtype=np.int64, count=len(raw.sequences))
    user = np.repeat(np.arange(len(raw.sequences), dtype=np.int64), lengths)
    item, item_names = _codes([i for s in raw.sequences for i in s])
    keep = k_core_mask(user, item, k_core) if item.size else np.zeros(0, dtype=bool)
    user_len = np.bincount(user[keep], minlength=len(raw.sequences))
    keep &= user_len[user] >= MIN_SEQUENCE_LENGTH
    if not keep.any():
        raise DataError(
            f"{name} is empty after {k_core}-core filtering and dropping users with fewer than "
            f"{MIN_SEQUENCE_LENGTH} interactions ({len(raw.sequences)} users read); check the files or "
            f"lower dataset.k_core"
        )
    kept_users = np.flatnonzero(np.bincount(user[keep], minlength=len(raw.sequences)))
    items, item_ids = _renumber_items(item, keep, item_names)
    offsets = np.zeros(len(kept_users) + 1, dtype=np.int64)
    np.cumsum(user_len[kept_users], out=offsets[1:])
    fields = {
        field: [values.get(original, "") for original in item_ids]
        for field, values in raw.item_fields.items()
    }
    log.info(
        "%s: %d users, %d items, %d interactions after %d-core",
        name,
        len(kept_users),
        len(item_ids),
        items.size,
        k_core,
    )
    notes = {**raw.notes, "read_users": len(raw.sequences), "read_items": len(item_names)}
    notes["read_interactions"] = int(item.size)
    times = (
        None
        if raw.times is None
        else np.fromiter((t for s in raw.times for t in s), dtype=np.float64, count=item.size)[keep]
    )
    stages = (
        None
        if raw.stages is None
        else np.fromiter((c for s in raw.stages for c in s), dtype=np.int8, count=item.size)[keep]
    )
    return SequenceData(
        items=items,
        offsets=offsets,
        user_ids=[raw.users[u] for u in kept_users],
        item_ids=item_ids,
        item_fields=fields,
        notes=notes,
        text_template=raw.text_template,
        empty_text=raw.empty_text,
        times=times,
        stages=stages,
    )
