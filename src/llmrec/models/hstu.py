"""HSTU: Zhai et al., "Actions Speak Louder than Words: Trillion-Parameter Sequential Transducers for
Generative Recommendations", ICML 2024, as the authors' research code trains it on MovieLens-1M
(meta-recsys/generative-recommenders, ``configs/ml-1m/hstu-sampled-softmax-n128-final.gin``): hidden 50,
2 blocks, 1 head of 50, dropout 0.2, L2-normalised outputs and items, temperature 0.05. The layer is
:mod:`llmrec.models.layers.hstu`; the scores are the last position's output against the item table.

Departures from the paper and its code:
- No relative time bias: llmrec's batches (``SeqBatch``) carry item ids only, no timestamps. The relative
  position bias is always added (``relative_bias: false`` drops it); the research code adds its combined
  position-and-time bias only when timestamps are present, as they are on MovieLens-1M.
- Full-softmax cross-entropy over the catalog is the default objective (``layers.losses.FullSoftmaxCE``),
  not the code's sampled softmax with 128 uniformly drawn negatives; any llmrec loss plugs in by ``loss``.
  The temperature divides the normalised output before the loss, which then sees plain dot products.
- The attention is divided by ``max_len``; the code divides by its padded length, ``max_len`` plus its
  generative output length (211 on MovieLens-1M). A constant either way, so left padding changes nothing.
- Dense left-padded tensors with a key-padding mask instead of jagged tensors and fused kernels; no cache
  for incremental inference. The optimiser is llmrec's AdamW (betas 0.9, 0.999; the code uses 0.98).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.models.base import SequentialRecommender, check_train_targets
from llmrec.models.layers.hstu import NORM_EPS, HSTUEncoder
from llmrec.models.layers.losses import FullSoftmaxCE, bind_loss_counts


class HSTU(SequentialRecommender):
    honours_new_targets = True

    def __init__(
        self,
        num_items: int,
        max_len: int,
        hidden: int = 50,
        layers: int = 2,
        heads: int = 1,
        qk_dim: int | None = None,
        v_dim: int | None = None,
        dropout: float = 0.2,
        linear_dropout: float = 0.2,
        relative_bias: bool = True,
        positions: str = "from_start",
        l2_norm: bool = True,
        temperature: float = 0.05,
        loss: nn.Module | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        train_targets: str = "all",
    ) -> None:
        super().__init__(num_items, max_len, lr, weight_decay)
        self.last_target_only = check_train_targets(type(self).__name__, train_targets) == "last"
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature <= 0:
            raise ConfigError(f"model.temperature must be positive, got {temperature!r}; the code uses 0.05")
        self.encoder = HSTUEncoder(
            num_items + 1,
            max_len,
            hidden,
            layers,
            heads,
            qk_dim,
            v_dim,
            dropout,
            linear_dropout,
            relative_bias,
            positions,
        )
        self.l2_norm = l2_norm
        self.temperature = float(temperature)
        self.objective = loss if loss is not None else FullSoftmaxCE()

    def bind_data(self, item_counts: Tensor, item_text: list[str]) -> None:
        bind_loss_counts(self.objective, item_counts)

    def _query_and_table(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Hidden states (..., D) and the item table (N+1, D) whose dot products are the scores."""
        table = self.encoder.item_emb.weight
        if self.l2_norm:
            h, table = F.normalize(h, dim=-1, eps=NORM_EPS), F.normalize(table, dim=-1, eps=NORM_EPS)
        return h / self.temperature, table

    def forward(self, item_seq: Tensor) -> Tensor:
        query, table = self._query_and_table(self.encoder(item_seq)[:, -1])  # (B, D), (N+1, D)
        return query @ table.T  # (B, N+1)

    def loss(self, batch: SeqBatch) -> Tensor:
        inputs, targets = batch.items[:, :-1], batch.items[:, 1:]  # (B, L) each
        h = self.encoder(inputs)  # (B, L, D)
        if self.last_target_only:  # one target per window: RecBole's samples with train_windows=prefixes
            query, table = self._query_and_table(h[:, -1])
            return self.objective(query, targets[:, -1], table)
        train = inputs != 0  # a position predicts the next item once it has seen one
        if batch.new_targets is not None:  # overlapping windows: earlier targets belong to another window
            column = torch.arange(inputs.shape[1], device=inputs.device)
            train &= column[None, :] >= inputs.shape[1] - batch.new_targets[:, None]
        query, table = self._query_and_table(h[train])
        return self.objective(query, targets[train], table)
