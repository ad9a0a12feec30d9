"""LLMSeqSim: Harte et al., "Leveraging Large Language Models for Sequential Recommendation", RecSys 2023
(extended in arXiv 2402.01339; official code github.com/dh-r/LLM-Sequential-Recommendation).

A session is embedded by aggregating the text embeddings of its items; every catalog item is scored by its
similarity to that session embedding. Nothing is trained (``requires_training = False``). The aggregation
and the similarity are small objects the config picks by ``_target_``, or by short name through the config
groups ``model/aggregation=<name>`` and ``model/similarity=<name>`` (conf/model/aggregation/, similarity/).

Aggregations, by the official code's names. ``age`` = 0 for the most recent item, 1 for the one before,
...; ``n`` = the number of items in the history. The official code counts ``i = age + 1`` (1-based from the
most recent item) and takes the weighted mean with these (unnormalised) weights:

- ``last`` :class:`LastItem` (the official default strategy) and ``mean`` :class:`Mean` (no decay);
- ``constant_linear`` :class:`ConstantLinearRecency`: max(1e-5, 1 - 0.1 age);
- ``scaling_linear`` :class:`LinearRecency`: max(1e-5, 1 - age / n), i.e. (n - age) / n;
- ``scaling_quadratic`` :class:`ScalingQuadraticRecency` and ``scaling_cubic`` :class:`ScalingCubicRecency`:
  the scaling_linear weight squared and cubed;
- ``log`` :class:`LogRecency`: 1 / (ln(age + 1) + 1);
- ``harmonic`` :class:`HarmonicRecency`: 1 / (age + 1); ``harmonic_squared`` :class:`HarmonicSquaredRecency`:
  1 / (age + 1)^2;
- ``log2`` :class:`Log2Recency`, an llmrec variant, not the authors': 1 / log2(age + 2) (the NDCG
  discount; what llmrec's ``LogRecency`` computed before it followed the official formula).

Similarities: ``cosine`` :class:`CosineSimilarity`, ``dot`` :class:`DotSimilarity`, ``euclidean``
:class:`EuclideanSimilarity` (here the negative distance; the official 1 / (1 + distance) ranks the same).
With unit-norm item embeddings (MiniLM's are), the three rank items identically for a given session
(dot = |s| cos, and |s - x|^2 = |s|^2 + 1 - 2 s.x); they differ for unnormalised encoders.

As in the official code, every catalog item gets an exact similarity (no approximate neighbours) and the
history's items are not recommended (the shared evaluation masks them).

Departures from the paper: it embeds product names with OpenAI ``text-embedding-ada-002``; here a local text
encoder (MiniLM by default, cached once per dataset). The session is the last ``max_len`` items (the official
code takes the whole session), so ``n`` above is at most ``max_len``. The optional ``reduce_to`` (PCA)
mirrors the paper's dimensionality-reduction experiments.
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


# The official decays never reach 0, so an item past their end still counts a little.
MIN_WEIGHT = 1e-5


class ConstantLinearRecency(RecencyWeightedMean):
    """Official ``constant_linear``: each step back costs 0.1 of the most recent weight, down to 1e-5."""

    step: ClassVar[float] = 0.1

    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return (1.0 - self.step * age).clamp(min=MIN_WEIGHT)


class LinearRecency(RecencyWeightedMean):
    """Official ``scaling_linear``: the weight falls by 1 / n per step back, n the history's length."""

    power: ClassVar[int] = 1

    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return (1.0 - age / count).clamp(min=MIN_WEIGHT) ** self.power


class ScalingQuadraticRecency(LinearRecency):
    """Official ``scaling_quadratic``: the scaling_linear weight squared."""

    power: ClassVar[int] = 2


class ScalingCubicRecency(LinearRecency):
    """Official ``scaling_cubic``: the scaling_linear weight cubed."""

    power: ClassVar[int] = 3


class LogRecency(RecencyWeightedMean):
    """Official ``log``: 1 / (ln i + 1), i = age + 1."""

    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return 1.0 / (torch.log(age + 1.0) + 1.0)


class Log2Recency(RecencyWeightedMean):
    """An llmrec variant (not in the official code): the NDCG discount 1 / log2(age + 2)."""

    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return 1.0 / torch.log2(age + 2.0)


class HarmonicRecency(RecencyWeightedMean):
    """Official ``harmonic``: 1 / i, i = age + 1."""

    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return 1.0 / (age + 1.0)


class HarmonicSquaredRecency(RecencyWeightedMean):
    """Official ``harmonic_squared``: 1 / i^2, i = age + 1."""

    def weights(self, age: Tensor, count: Tensor) -> Tensor:
        return 1.0 / (age + 1.0) ** 2


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
