"""LLMSeqSim: Harte et al., "Leveraging Large Language Models for Sequential Recommendation", RecSys 2023
(extended in arXiv 2402.01339).

A session is embedded by aggregating the text embeddings of its items; every catalog item is scored by its
similarity to that session embedding. Nothing is trained (``requires_training = False``). The aggregation
and the similarity are small objects the config picks by ``_target_``:

- aggregation: :class:`LastItem`, :class:`Mean`, and recency-weighted means :class:`LinearRecency`
  (weight n - age), :class:`HarmonicRecency` (1 / (age + 1)), :class:`LogRecency` (1 / log2(age + 2)),
  where age = 0 for the most recent item and n is the number of items in the history;
- similarity: :class:`CosineSimilarity`, :class:`DotSimilarity`, :class:`EuclideanSimilarity`
  (negative distance, so larger is closer).

With unit-norm item embeddings (MiniLM's are), the three similarities rank items identically for a given
session (dot = |s| cos, and |s - x|^2 = |s|^2 + 1 - 2 s.x); they differ for unnormalised encoders.

Departures from the paper: the paper embeds product names with OpenAI ``text-embedding-ada-002`` and
ranks with approximate neighbours over candidates; here a local text encoder (MiniLM by default, cached
once per dataset) and exact scores over the whole catalog, so the shared evaluation ranks every item. The
optional ``reduce_to`` (PCA) mirrors the paper's dimensionality-reduction experiments.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from llmrec.data.batch import SeqBatch
from llmrec.embeddings.cache import ItemEmbeddings
from llmrec.embeddings.reduce import PCAReducer
from llmrec.errors import DataError
from llmrec.models.base import SequentialRecommender


def item_ages(mask: Tensor) -> Tensor:
    """(B, L) age of each real item: 0 = most recent, 1 = the one before, ...; padding gets -1."""
    after = mask.flip(1).long().cumsum(1).flip(1)  # real items at or after each position
    return torch.where(mask, after - 1, -1)


class RecencyWeightedMean(ABC):
    """Weighted mean of a history's item vectors; subclasses give the weight of an item from its age."""

    @abstractmethod
    def weights(self, age: Tensor, count: Tensor) -> Tensor:  # (B, L) ages, (B, 1) history lengths
        """Unnormalised weight of each item from its age (0 = most recent)."""

    def __call__(self, vectors: Tensor, mask: Tensor) -> Tensor:
        age = item_ages(mask).to(vectors.dtype)  # (B, L)
        count = mask.sum(1, keepdim=True).to(vectors.dtype)  # (B, 1)
        w = torch.where(mask, self.weights(age.clamp(min=0), count), 0.0)  # (B, L)
        w = w / w.sum(1, keepdim=True).clamp(min=1e-12)
        return (w.unsqueeze(-1) * vectors).sum(1)  # (B, D)


class LastItem(RecencyWeightedMean):
    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return (age == 0).to(age.dtype)


class Mean(RecencyWeightedMean):
    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return torch.ones_like(age)


class LinearRecency(RecencyWeightedMean):
    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return count - age  # most recent n, oldest 1


class HarmonicRecency(RecencyWeightedMean):
    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return 1.0 / (age + 1.0)


class LogRecency(RecencyWeightedMean):
    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return 1.0 / torch.log2(age + 2.0)


class CosineSimilarity:
    def __call__(self, session: Tensor, items: Tensor) -> Tensor:  # (B, D), (M, D) -> (B, M)
        return F.normalize(session, dim=-1) @ F.normalize(items, dim=-1).T


class DotSimilarity:
    def __call__(self, session: Tensor, items: Tensor) -> Tensor:
        return session @ items.T


class EuclideanSimilarity:
    def __call__(self, session: Tensor, items: Tensor) -> Tensor:
        return -torch.cdist(session, items)


class LLMSeqSim(SequentialRecommender):
    requires_training: ClassVar[bool] = False

    def __init__(
        self,
        num_items: int,
        max_len: int,
        embeddings: ItemEmbeddings,
        aggregation: RecencyWeightedMean | None = None,
        similarity: CosineSimilarity | DotSimilarity | EuclideanSimilarity | None = None,
        reduce_to: int | None = None,
        reducer: PCAReducer | None = None,
    ) -> None:
        super().__init__(num_items, max_len)
        self.embeddings = embeddings
        self.aggregation = aggregation if aggregation is not None else LinearRecency()
        self.similarity = similarity if similarity is not None else CosineSimilarity()
        self.reduce_to = reduce_to
        self.reducer = reducer if reducer is not None else PCAReducer()
        self.register_buffer("item_vectors", torch.zeros(num_items + 1, 1), persistent=False)  # (N+1, D)

    def set_item_vectors(self, vectors: np.ndarray) -> None:
        """Use ``vectors`` (N, D) as the items' embeddings (row i = item i+1)."""
        if vectors.shape[0] != self.num_items:
            raise DataError(f"got embeddings for {vectors.shape[0]} items, the catalog has {self.num_items}")
        if self.reduce_to is not None:
            vectors = self.reducer(vectors, self.reduce_to)  # (N, reduce_to)
        table = torch.zeros(self.num_items + 1, vectors.shape[1], device=self.item_vectors.device)
        table[1:] = torch.from_numpy(np.asarray(vectors, dtype=np.float32))
        self.item_vectors = table  # (N+1, D), row 0 = padding

    def bind_data(self, item_counts: Tensor, item_text: list[str]) -> None:
        self.set_item_vectors(self.embeddings(item_text))

    def forward(self, item_seq: Tensor) -> Tensor:
        vectors = self.item_vectors[item_seq]  # (B, L, D)
        session = self.aggregation(vectors, item_seq != 0)  # (B, D)
        scores = self.similarity(session, self.item_vectors)  # (B, N+1)
        scores[:, 0] = float("-inf")
        return scores

    def loss(self, batch: SeqBatch) -> Tensor:
        raise TypeError("LLMSeqSim has nothing to train (requires_training = False)")
