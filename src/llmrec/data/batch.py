"""The one batch type every model and the evaluation use; padding helpers shared by models and data."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class SeqBatch(NamedTuple):
    """Lightning moves NamedTuples of tensors to the model's device.

    items: (B, L+1) left-padded with 0; ``items[:, -1]`` is the target (at evaluation) or the last
        position of a training window (in training every position predicts the next one).
    seen: (B, H) ids to mask at evaluation (the user's history), 0-padded; None in training.
    users: (B,) user index, so evaluation can report per-user metrics and drop duplicates.
    new_targets: (B,) with overlapping training windows (``datamodule.window_stride``): a window trains on
        its last ``new_targets[b]`` targets only, the others being targets of another window; None: all.
    candidates: (B, C) sampled negatives (``protocol=sampled``): the target is ranked against these
        only; None: against the whole catalog.
    """

    items: Tensor
    seen: Tensor | None = None
    users: Tensor | None = None
    new_targets: Tensor | None = None
    candidates: Tensor | None = None


def trim_left_padding(rows: Tensor, keep: int = 2) -> Tensor:
    """Drop leading columns that are padding in every row. Positions count from the right end, so a
    model's scores do not change; attention and feed-forward work shrink with the longest row."""
    filled = (rows != 0).any(dim=0)
    first = int(filled.int().argmax()) if bool(filled.any()) else rows.shape[1] - keep
    return rows[:, min(first, rows.shape[1] - keep) :]


def pad_batch(rows: list[list[int]], pad: int, left: bool) -> tuple[Tensor, Tensor]:
    """(B, T) ids and attention mask, padded on the left (generation) or right (training)."""
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[b, span], mask[b, span] = torch.tensor(row, dtype=torch.long), 1
    return ids, mask
