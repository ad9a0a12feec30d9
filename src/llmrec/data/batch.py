"""The one batch type every model and the evaluation use."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class SeqBatch(NamedTuple):
    """Lightning moves NamedTuples of tensors to the model's device.

    items: (B, L+1) left-padded with 0; ``items[:, -1]`` is the target (at evaluation) or the last
        position of a training window (in training every position predicts the next one).
    seen: (B, H) ids to mask at evaluation (the user's history), 0-padded; None in training.
    users: (B,) user index, so evaluation can report per-user metrics and drop duplicates.
    new_targets: (B,) with overlapping training windows (``datamodule.window_stride``): a window trains on
        its last ``new_targets[b]`` targets only, the others being targets of another window; None: all.
    """

    items: Tensor
    seen: Tensor | None = None
    users: Tensor | None = None
    new_targets: Tensor | None = None
