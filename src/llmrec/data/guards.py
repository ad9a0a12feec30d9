"""Run-time leakage guards, checked before training on the arrays training actually uses."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from llmrec.errors import DataError

# Item text must be a property of the item alone: a field named after users, splits or targets would
# carry information from the evaluation side into the model's input.
_SPLIT_FIELD = re.compile(r"user|split|target|label|test|valid|rating|history", re.IGNORECASE)


def check_train_positions(
    offsets: np.ndarray, positions: np.ndarray, users: np.ndarray, train_ends: np.ndarray | None = None
) -> None:
    """Every non-padding position (-1 = padding) of every training window must lie in its own user's
    training part ``[start, train_end)`` (leave-one-out: ``end - 2``; a held-out user's part is empty):
    never a validation or test target or a held-out user's item, never another user's item."""
    if positions.shape[0] != users.shape[0]:
        raise DataError(f"{positions.shape[0]} training windows but {users.shape[0]} window users")
    starts, ends = offsets[users][:, None], offsets[users + 1][:, None]
    train_ends = ends - 2 if train_ends is None else train_ends[users][:, None]
    real = positions >= 0
    eval_target = real & (positions >= train_ends) & (positions < ends)
    foreign = real & ((positions < starts) | (positions >= ends))
    evaluated = "a validation or test target (or a held-out user's item)"
    for bad, what in ((eval_target, evaluated), (foreign, "another user's item")):
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DataError(
                f"leakage: {int(bad.sum())} training-window position(s) are {what} (first in window {row}, "
                f"user {int(users[row])}); the split is broken, training would see evaluation data"
            )


def check_item_text(texts: Sequence[str], num_items: int, fields: Sequence[str]) -> list[str]:
    """Item text is one string per item (identical for every user) from item-only fields."""
    suspicious = [name for name in fields if _SPLIT_FIELD.search(name)]
    if suspicious:
        raise DataError(
            f"leakage: item text field(s) {suspicious} look user- or split-derived; item text must "
            f"describe the item only (title, brand, categories, ...): drop those fields from the reader"
        )
    if len(texts) != num_items or not all(isinstance(text, str) for text in texts):
        raise DataError(
            f"item text must be one string per item ({num_items} items), got {len(texts)} entries; "
            f"rebuild the dataset cache"
        )
    return list(texts)
