"""SASRec: Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018.

Departures from the paper:
- Full-softmax cross-entropy over the catalog is the default objective (``layers.losses.FullSoftmaxCE``);
  the paper's binary cross-entropy with one sampled negative is ``layers.losses.SampledBCE``. Negatives
  are sampled uniformly from the catalog, not excluding the user's history.
- Post-norm blocks with a GELU MLP by default, as in RecBole's SASRec; ``block: OriginalBlock`` with a
  ``ReluMLP`` feed-forward and ``inner`` = ``hidden`` is the block of the authors' code
  (``model=sasrec_original``), ``PreNormBlock`` the GPT-2 pre-norm layout, ``LiGRBlock`` with ``SwiGLU``
  the gated block of eSASRec (``model=sasrec_ligr``); see ``layers.blocks``. Padded keys are masked
  rather than padded embeddings zeroed.
- Long training sequences are tiled into windows of ``max_len`` targets (every training position is a
  target once; ``samples=tiled``) instead of keeping only the most recent ``max_len`` items
  (``samples=last_n``). ``samples=prefixes`` (``train_windows=prefixes``, ``train_targets: last``) trains
  as RecBole does: one sample per target, its prefix as the input, the loss at the last position only
  (several times the compute per epoch).
- ``head`` (off by default: the paper scores the last hidden state against the item table as is) puts a
  transform before the tied item table and adds a per-item bias: ``layers.heads.ReluProjectionHead`` is
  the projection head of Harte et al.'s SASRec and LLM2SASRec (a Dense layer with ReLU, then the table
  and a bias).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from llmrec.data.batch import SeqBatch
from llmrec.models.base import SequentialRecommender, check_train_targets, next_item_positions
from llmrec.models.layers.blocks import BlockFactory, PostNormBlock
from llmrec.models.layers.encoder import SequenceEncoder
from llmrec.models.layers.feed_forward import FeedForwardFactory, GeluMLP
from llmrec.models.layers.heads import HeadFactory
from llmrec.models.layers.item_init import ItemInit, load_item_table
from llmrec.models.layers.losses import FullSoftmaxCE, bind_loss_counts


class SASRec(SequentialRecommender):
    honours_new_targets = True

    def __init__(
        self,
        num_items: int,
        max_len: int,
        hidden: int = 64,
        layers: int = 2,
        heads: int = 2,
        inner: int = 256,
        dropout: float = 0.5,
        attn_dropout: float = 0.5,
        block: BlockFactory = PostNormBlock,
        feed_forward: FeedForwardFactory = GeluMLP,
        positions: str = "from_end",
        loss: nn.Module | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        item_init: ItemInit | None = None,
        train_targets: str = "all",
        head: HeadFactory | None = None,
    ) -> None:
        super().__init__(num_items, max_len, lr, weight_decay)
        self.last_target_only = check_train_targets(type(self).__name__, train_targets) == "last"
        self.encoder = SequenceEncoder(
            num_items + 1,
            max_len,
            hidden,
            layers,
            heads,
            inner,
            dropout,
            attn_dropout,
            causal=True,
            block=block,
            feed_forward=feed_forward,
            positions=positions,
        )
        # created after the encoder, and only when asked for, so the default's initial weights do not move
        self.head = head(hidden) if head is not None else None
        self.bias = nn.Parameter(torch.zeros(num_items + 1)) if head is not None else None
        self.objective = loss if loss is not None else FullSoftmaxCE()
        self.item_init = item_init  # LLM2SASRec / LLM2BERT4Rec: item table from item-text embeddings

    def bind_data(self, item_counts: Tensor, item_text: list[str]) -> None:
        bind_loss_counts(self.objective, item_counts)
        if self.item_init is not None:
            table = self.item_init(item_text, self.encoder.item_emb.embedding_dim)  # (N, D)
            load_item_table(self.encoder.item_emb.weight, table)

    def _objective(self, h: Tensor, targets: Tensor) -> Tensor:
        """The loss of hidden states ``h`` (M, D) on ``targets`` (M,), through the head when there is one."""
        table = self.encoder.item_emb.weight
        if self.head is None:  # the objective as before: losses of three arguments stay usable
            return self.objective(h, targets, table)
        return self.objective(self.head(h), targets, table, self.bias)

    def forward(self, item_seq: Tensor) -> Tensor:
        h = self.encoder(item_seq)[:, -1]  # (B, D)
        if self.head is None:
            return h @ self.encoder.item_emb.weight.T  # (B, N+1)
        return self.head(h) @ self.encoder.item_emb.weight.T + self.bias  # (B, N+1)

    def loss(self, batch: SeqBatch) -> Tensor:
        inputs, targets = batch.items[:, :-1], batch.items[:, 1:]  # (B, L) each
        h = self.encoder(inputs)  # (B, L, D)
        if self.last_target_only:  # one target per window: RecBole's samples with train_windows=prefixes
            return self._objective(h[:, -1], targets[:, -1])
        train = next_item_positions(inputs, batch.new_targets)
        return self._objective(h[train], targets[train])
