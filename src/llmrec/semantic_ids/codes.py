"""Semantic IDs: every catalog item as a short tuple of discrete codes learned from its embedding (TIGER,
Rajput et al., NeurIPS 2023). This module is the contract between the item tokenizers that learn the codes
and the generative models that read and write them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from llmrec.errors import DataError


@dataclass(frozen=True)
class SemanticIds:
    """``codes[i]`` holds item ``i + 1``'s code at each level (item 0 is padding and has none).

    codes: (N, C) int64, level ``l`` in ``[0, level_sizes[l])``, every row distinct.
    level_sizes: how many codes each level has; the last level is the one that resolves collisions when the
        tokenizer added it (TIGER's rule), so a model sizes its vocabulary from these, never from ``codes``.
    """

    codes: Tensor
    level_sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        codes = self.codes
        if codes.dim() != 2 or codes.dtype != torch.int64 or codes.shape[0] == 0:
            shape = tuple(codes.shape)
            raise DataError(f"semantic ids must be a non-empty (items, levels) int64 tensor, got {shape}")
        if codes.shape[1] != len(self.level_sizes):
            raise DataError(f"{codes.shape[1]} code levels but {len(self.level_sizes)} level sizes")
        sizes = torch.tensor(self.level_sizes)
        if bool((codes < 0).any()) or bool((codes >= sizes).any()):
            raise DataError(f"a code lies outside its level's range (level sizes {self.level_sizes})")
        if torch.unique(codes, dim=0).shape[0] != codes.shape[0]:
            raise DataError("two items share one code tuple: semantic ids must be unique per item")

    @property
    def num_items(self) -> int:
        return self.codes.shape[0]

    @property
    def num_levels(self) -> int:
        return self.codes.shape[1]


class ItemTokenizer(Protocol):
    """Learns (or loads from its cache) the semantic ids of a catalog from the items' text."""

    def __call__(self, item_text: list[str]) -> SemanticIds: ...
