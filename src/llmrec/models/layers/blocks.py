"""Transformer block layouts, one class each, chosen in the model YAML by ``_target_``
(``model.block: {_target_: llmrec.models.layers.blocks.PreNormBlock, _partial_: true}``); the encoder builds
``layers`` of them with ``hidden``, ``heads``, ``inner``, ``dropout``, ``attn_dropout`` and the feed-forward.

- :class:`PostNormBlock`: x = LN(x + Attn(x)); x = LN(x + FFN(x)), as in BERT4Rec and RecBole's SASRec.
- :class:`PreNormBlock`: x = x + Attn(LN(x)); x = x + FFN(LN(x)), the GPT-2 layout.
- :class:`OriginalBlock`: Kang & McAuley's SASRec code and its PyTorch ports: the query is normalised but
  keys and values are not, and each residual adds to the normalised stream: q = LN(x);
  x = q + Attn(q, x, x); h = LN(x); x = h + FFN(h). Its MLP has dropout after the activation, and its
  query/key/value projection starts Xavier-uniform (PyTorch's MultiheadAttention and TF's dense layers in
  those codes), every other weight N(0, 0.02).
- :class:`LiGRBlock`: the gated pre-norm block of LinkedIn's LiGR (arXiv 2502.03417), the layer of eSASRec
  (Tikhonovich et al., RecSys 2025): x = x + sigmoid(G1 x) * Attn(LN(x)); x = x + sigmoid(G2 x) * FFN(LN(x)),
  the gates computed from the un-normalised stream; Xavier-uniform q/k/v as in its code.

What a layout changes outside the block is declared by class attributes the encoder reads: all but the
post-norm block scale item embeddings by sqrt(hidden) before adding positions and end with a final
LayerNorm (the post-norm encoder normalises the embedding sum instead), as their codes do.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar, Protocol

import torch
from torch import Tensor, nn

from llmrec.models.layers.dropout import Dropout
from llmrec.models.layers.feed_forward import FeedForwardFactory, GeluMLP
from llmrec.models.layers.transformer import SelfAttention


class Block(nn.Module):
    """Self-attention and a feed-forward with two LayerNorms; a subclass's ``forward`` is the layout."""

    # the encoder multiplies item embeddings by sqrt(hidden) before adding positions
    scale_embeddings: ClassVar[bool] = True
    # the encoder's LayerNorm on its output; False: on the embedding sum, before the first block
    final_norm: ClassVar[bool] = True
    # the q/k/v projection re-drawn Xavier-uniform after the N(0, 0.02) initialisation of every weight
    xavier_attention: ClassVar[bool] = False
    # dropout between the MLP's activation and its second linear layer
    activation_dropout: ClassVar[bool] = False

    def __init__(
        self,
        hidden: int,
        heads: int,
        inner: int,
        dropout: float,
        attn_dropout: float,
        feed_forward: FeedForwardFactory = GeluMLP,
    ) -> None:
        super().__init__()
        # creation order fixes the initialisation's random draws: keep it
        self.attn = SelfAttention(hidden, heads, attn_dropout)
        self.ffn = feed_forward(hidden, inner, dropout, activation_dropout=self.activation_dropout)
        self.norm1 = nn.LayerNorm(hidden, eps=1e-12)
        self.norm2 = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = Dropout(dropout)

    @abstractmethod
    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """(B, L, D) stream and (B, 1, L, L) attention mask (True = may attend) -> (B, L, D)."""


class BlockFactory(Protocol):
    """A block class, or a ``_partial_`` of one from the config."""

    def __call__(
        self,
        hidden: int,
        heads: int,
        inner: int,
        dropout: float,
        attn_dropout: float,
        feed_forward: FeedForwardFactory,
    ) -> Block: ...


class PostNormBlock(Block):
    scale_embeddings = False
    final_norm = False

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = self.norm1(x + self.drop(self.attn(x, mask)))
        return self.norm2(x + self.drop(self.ffn(x)))


class PreNormBlock(Block):
    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), mask))
        return x + self.drop(self.ffn(self.norm2(x)))


class OriginalBlock(Block):
    xavier_attention = True
    activation_dropout = True

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        q = self.norm1(x)
        x = q + self.attn(q, mask, keys=x)  # attention dropout only, as in the original code
        h = self.norm2(x)
        return h + self.drop(self.ffn(h))


class LiGRBlock(Block):
    xavier_attention = True

    def __init__(
        self,
        hidden: int,
        heads: int,
        inner: int,
        dropout: float,
        attn_dropout: float,
        feed_forward: FeedForwardFactory = GeluMLP,
    ) -> None:
        super().__init__(hidden, heads, inner, dropout, attn_dropout, feed_forward)
        self.gate1 = nn.Linear(hidden, hidden)
        self.gate2 = nn.Linear(hidden, hidden)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + torch.sigmoid(self.gate1(x)) * self.drop(self.attn(self.norm1(x), mask))
        return x + torch.sigmoid(self.gate2(x)) * self.drop(self.ffn(self.norm2(x)))
