"""Item tables initialised from item-text embeddings: LLM2SASRec and LLM2BERT4Rec of Harte et al.
(arXiv 2402.01339) are SASRec / BERT4Rec whose item embeddings start from LLM embeddings of the item
names, reduced by PCA to the model's hidden size, and then train as usual.

Departures from the paper: the text encoder is a local one (MiniLM by default) instead of OpenAI's
``text-embedding-ada-002``; ``std`` optionally rescales the reduced table (the paper uses it as is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from llmrec.embeddings.cache import ItemEmbeddings
from llmrec.embeddings.reduce import PCAReducer
from llmrec.errors import ConfigError, DataError


class ItemInit(Protocol):
    def __call__(self, item_text: list[str], dim: int) -> Tensor: ...  # (N, dim)


class TextEmbeddingInit:
    """``init(item_text, dim)`` -> (N, dim): cached text embeddings, reduced (PCA by default), rescaled."""

    def __init__(
        self,
        embeddings: ItemEmbeddings,
        reducer: Callable[[np.ndarray, int], np.ndarray] | None = None,
        std: float | None = None,
    ) -> None:
        if std is not None and std <= 0:
            raise ConfigError(f"item_init.std must be positive or null, got {std}")
        self.embeddings = embeddings
        self.reducer = reducer if reducer is not None else PCAReducer()
        self.std = std

    def __call__(self, item_text: list[str], dim: int) -> Tensor:
        reduced = self.reducer(self.embeddings(item_text), dim)  # (N, dim)
        table = torch.from_numpy(np.asarray(reduced, dtype=np.float32))
        if self.std is not None:
            table = table * (self.std / table.std().clamp(min=1e-12))
        return table


@torch.no_grad()
def load_item_table(weight: Tensor, table: Tensor) -> None:
    """Copy ``table`` (N, D) into rows 1..N of an embedding ``weight`` (padding row 0 stays zero)."""
    rows, dim = table.shape
    if dim != weight.shape[1] or rows > weight.shape[0] - 1:
        raise DataError(
            f"item init of shape {tuple(table.shape)} does not fit the item table {tuple(weight.shape)}"
        )
    weight[1 : rows + 1] = table.to(weight)
