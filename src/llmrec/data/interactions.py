"""The canonical in-memory form of a dataset: chronological item sequences per user, plus item text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Interactions:
    """Raw interactions as a reader returns them: original ids, chronological per user.

    ``sequences[u]`` lists the original item ids user ``users[u]`` interacted with, oldest first
    (ties already broken by the reader's stable rule). ``item_fields`` maps a field name (title,
    genres, ...) to ``{original item id: text}``; items absent from a field have no text for it.
    """

    users: list[str]
    sequences: list[list[str]]
    item_fields: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class SequenceData:
    """Processed dataset: items remapped to 1..N (0 = padding), users to 0..U-1.

    ``items`` is the concatenation of all user sequences and ``offsets`` (length U+1) delimits them,
    so the whole dataset is two flat integer arrays (cheap to cache, no pickle).
    """

    items: np.ndarray  # (total interactions,) int64, ids 1..N
    offsets: np.ndarray  # (U+1,) int64
    user_ids: list[str]  # original id of user u
    item_ids: list[str]  # original id of item i+1 (index 0 is item 1)
    item_fields: dict[str, list[str]] = field(
        default_factory=dict
    )  # field -> text per item (index i = item i+1)

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    @property
    def num_interactions(self) -> int:
        return int(self.items.shape[0])

    def sequence(self, user: int) -> np.ndarray:
        return self.items[self.offsets[user] : self.offsets[user + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def item_text(self, fields: Sequence[str] | None = None, separator: str = " | ") -> list[str]:
        """Text per item (index i = item i+1) joined from the given fields; "" where an item has none."""
        names = list(self.item_fields) if fields is None else list(fields)
        columns = [self.item_fields[name] for name in names if name in self.item_fields]
        if not columns:
            return ["" for _ in self.item_ids]
        return [separator.join(text for text in parts if text) for parts in zip(*columns, strict=True)]


def flatten(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate integer sequences into (items, offsets)."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    items = np.fromiter((i for s in sequences for i in s), dtype=np.int64, count=int(offsets[-1]))
    return items, offsets
