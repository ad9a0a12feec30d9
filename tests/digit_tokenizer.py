"""A deterministic item tokenizer for TIGER's tests (the learned ones live in llmrec.semantic_ids): item
i's codes are the base-``base`` digits of i - 1, most significant first, so items sharing leading digits
share trie prefixes."""

from __future__ import annotations

import torch

from llmrec.errors import DataError
from llmrec.semantic_ids import SemanticIds


class DigitTokenizer:
    def __init__(self, base: int = 3, levels: int = 3) -> None:
        self.base, self.levels = base, levels

    def __call__(self, item_text: list[str]) -> SemanticIds:
        if len(item_text) > self.base**self.levels:
            raise DataError(f"{len(item_text)} items need more than {self.levels} base-{self.base} digits")
        index = torch.arange(len(item_text))
        powers = self.base ** torch.arange(self.levels - 1, -1, -1)
        codes = (index[:, None] // powers) % self.base  # (N, levels)
        return SemanticIds(codes, (self.base,) * self.levels)
