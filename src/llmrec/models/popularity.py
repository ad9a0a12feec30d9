"""Most-popular baseline: every user gets items ranked by their count in the training parts."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from llmrec.data.batch import SeqBatch
from llmrec.models.base import SequentialRecommender


class Popularity(SequentialRecommender):
    requires_training: ClassVar[bool] = False
    fresh_scores: ClassVar[bool] = False  # forward returns a view of its counts

    def __init__(self, num_items: int, max_len: int) -> None:
        super().__init__(num_items, max_len)
        self.register_buffer("counts", torch.zeros(num_items + 1))

    def bind_data(self, item_counts: Tensor, item_text: list[str]) -> None:
        self.counts.copy_(item_counts.to(self.counts))

    def forward(self, item_seq: Tensor) -> Tensor:
        return self.counts.expand(item_seq.shape[0], -1)  # (B, N+1)

    def loss(self, batch: SeqBatch) -> Tensor:
        raise TypeError("Popularity has nothing to train (requires_training = False)")
