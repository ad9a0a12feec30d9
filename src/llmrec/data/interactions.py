"""The canonical in-memory form of a dataset: chronological item sequences per user, plus item text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from llmrec.data.item_text import render_all


@dataclass
class Interactions:
    """Raw interactions as a reader returns them: original ids, chronological per user.

    ``sequences[u]`` lists the original item ids user ``users[u]`` interacted with, oldest first
    (ties already broken by the reader's stable rule). ``item_fields`` maps a field name (title,
    genres, ...) to ``{original item id: text}``; items absent from a field have no text for it.
    ``notes`` counts what the reader's documented rules did (duplicates dropped, ...); ``text_template``
    and ``empty_text`` say how :meth:`SequenceData.item_text` builds an item's text.
    """

    users: list[str]
    sequences: list[list[str]]
    item_fields: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    text_template: str | None = None
    empty_text: str = ""
    times: list[list[float]] | None = None  # unix seconds per interaction, as ``sequences``; None: no times
    # a published split's stage per interaction (llmrec.data.given_split codes), as ``sequences``; None: none
    stages: list[list[int]] | None = None


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
    # field -> text per item (index i = item i+1)
    item_fields: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)  # counts from the readers' rules and k-core
    text_template: str | None = None  # e.g. "{title} | {brand}"; None joins every field
    empty_text: str = ""  # marker for an item without any text
    times: np.ndarray | None = None  # (total interactions,) float64 unix seconds; None: files had none
    stages: np.ndarray | None = None  # (total interactions,) int8 stage of a published split; None: none

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

    def item_text(
        self, fields: Sequence[str] | None = None, separator: str = " | ", template: str | None = None
    ) -> list[str]:
        """Text per item (index i = item i+1): from ``template``, else the given ``fields`` joined, else
        the dataset's ``text_template`` (all fields when None); ``empty_text`` where an item has none."""
        if template is None and fields is not None:
            columns = [self.item_fields[name] for name in fields if name in self.item_fields]
            if not columns:
                return [self.empty_text for _ in self.item_ids]
            joined = (separator.join(text for text in parts if text) for parts in zip(*columns, strict=True))
            return [text or self.empty_text for text in joined]
        template = self.text_template if template is None else template
        return render_all(self.item_fields, self.num_items, template, self.empty_text, separator)


def flatten(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate integer sequences into (items, offsets)."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    items = np.fromiter((i for s in sequences for i in s), dtype=np.int64, count=int(offsets[-1]))
    return items, offsets
