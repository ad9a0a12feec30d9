"""BERT4Rec: Sun et al., "BERT4Rec: Sequential Recommendation with Bidirectional Encoder
Representations from Transformer", CIKM 2019.

Departures from the paper:
- Post-norm blocks with a GELU MLP, as BERT's (``block`` and ``feed_forward`` choose others, as for
  SASRec).
- The output layer is the paper's: a projection with GELU and layer norm (as in BERT's masked-LM head,
  ``layers.heads.MaskedLMHead``), then the item embedding table (tied) plus a bias. ``head`` swaps the
  transform: ``layers.heads.GeluProjectionHead`` is the projection head of Harte et al.'s BERT4Rec and
  LLM2BERT4Rec (the same without the layer norm).
- Besides random cloze masking, a share of windows (``last_item_prob``) masks only the last item, the
  task seen at evaluation; every window has at least one masked position.
- Training samples (``train_targets``, from the study's ``samples``): with ``all`` (``samples=tiled`` or
  ``last_n``) the cloze masks above are drawn over every position of the windows; with ``last``
  (``samples=prefixes``) only the last item of each window (its target) is masked: one next-item target
  per window, as for the other models, and ``mask_prob`` / ``last_item_prob`` have no effect.
- ``loss`` (full-softmax cross-entropy, the paper's, by default) takes another objective of
  ``layers.losses`` over the masked positions, e.g. ``+model.loss._target_=...SampledSoftmaxCE``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.models.base import SequentialRecommender, check_train_targets
from llmrec.models.layers.blocks import BlockFactory, PostNormBlock
from llmrec.models.layers.encoder import SequenceEncoder
from llmrec.models.layers.feed_forward import FeedForwardFactory, GeluMLP
from llmrec.models.layers.heads import HeadFactory, MaskedLMHead
from llmrec.models.layers.item_init import ItemInit, load_item_table
from llmrec.models.layers.losses import FullSoftmaxCE, bind_loss_counts


class BERT4Rec(SequentialRecommender):
    def __init__(
        self,
        num_items: int,
        max_len: int,
        hidden: int = 64,
        layers: int = 2,
        heads: int = 2,
        inner: int = 256,
        dropout: float = 0.2,
        attn_dropout: float = 0.2,
        block: BlockFactory = PostNormBlock,
        feed_forward: FeedForwardFactory = GeluMLP,
        mask_prob: float = 0.2,
        last_item_prob: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        item_init: ItemInit | None = None,
        train_targets: str = "all",
        head: HeadFactory = MaskedLMHead,
        loss: nn.Module | None = None,
    ) -> None:
        super().__init__(num_items, max_len, lr, weight_decay)
        self.last_target_only = check_train_targets(type(self).__name__, train_targets) == "last"
        if not 0.0 < mask_prob < 1.0:
            raise ConfigError(f"model.mask_prob must be in (0, 1), got {mask_prob}; e.g. model.mask_prob=0.2")
        if not 0.0 <= last_item_prob <= 1.0:
            raise ConfigError(f"model.last_item_prob must be in [0, 1], got {last_item_prob}")
        self.mask_token = num_items + 1
        self.encoder = SequenceEncoder(
            num_items + 2,
            max_len,
            hidden,
            layers,
            heads,
            inner,
            dropout,
            attn_dropout,
            causal=False,
            block=block,
            feed_forward=feed_forward,
        )
        self.head = head(hidden)
        self.bias = nn.Parameter(torch.zeros(num_items + 1))
        self.mask_prob = mask_prob
        self.last_item_prob = last_item_prob
        self.objective = loss if loss is not None else FullSoftmaxCE()
        self.item_init = item_init  # LLM2SASRec / LLM2BERT4Rec: item table from item-text embeddings

    def bind_data(self, item_counts: Tensor, item_text: list[str]) -> None:
        bind_loss_counts(self.objective, item_counts)
        if self.item_init is not None:
            table = self.item_init(item_text, self.encoder.item_emb.embedding_dim)  # (N, D)
            load_item_table(self.encoder.item_emb.weight, table)

    def _item_table(self) -> Tensor:
        return self.encoder.item_emb.weight[: self.num_items + 1]  # (N+1, D), without the mask token

    def forward(self, item_seq: Tensor) -> Tensor:
        mask = torch.full_like(item_seq[:, :1], self.mask_token)
        h = self.head(self.encoder(torch.cat([item_seq, mask], dim=1))[:, -1])  # (B, D); last max_len
        return h @ self._item_table().T + self.bias  # (B, N+1)

    def cloze_mask(self, items: Tensor) -> Tensor:
        """(B, L) positions of windows ``items`` (B, L) to mask and predict."""
        real = items != 0
        last = torch.zeros_like(real)
        last[:, -1] = real[:, -1]
        if self.last_target_only:  # samples=prefixes: the window's target only
            return last
        masked = (torch.rand(items.shape, device=items.device) < self.mask_prob) & real
        last_only = torch.rand(items.shape[0], 1, device=items.device) < self.last_item_prob
        return torch.where(last_only | ~masked.any(dim=1, keepdim=True), last, masked)

    def loss(self, batch: SeqBatch) -> Tensor:
        items = batch.items[:, 1:]  # (B, L)
        masked = self.cloze_mask(items)
        self.loss_targets = masked.sum()  # 0-d: summed on the device, no sync per step
        inputs = torch.where(masked, self.mask_token, items)
        h = self.head(self.encoder(inputs)[masked])  # (M, D)
        return self.objective(h, items[masked], self._item_table(), self.bias)
