"""A small transformer encoder over item sequences, causal (SASRec) or bidirectional (BERT4Rec).

Attention masks combine key padding with (optionally) causality; every position may always attend to
itself, so an all-padding row never produces NaN from an empty softmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmrec.errors import ConfigError


def check_sizes(sizes: dict[str, int], rates: dict[str, float]) -> None:
    """Positive sizes and dropout rates in [0, 1), named as the config keys ``model.<name>``."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"model.{name} must be a positive integer, got {value!r}")
    for name, value in rates.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ConfigError(f"model.{name} must be in [0, 1), got {value!r}")


def attention_mask(pad: Tensor, causal: bool) -> Tensor:
    """(B, 1, L, L) boolean mask, True = may attend. ``pad`` is (B, L), True at padding."""
    length = pad.shape[1]
    allowed = ~pad[:, None, None, :]  # keys that are real items
    if causal:
        allowed = allowed & torch.ones(length, length, dtype=torch.bool, device=pad.device).tril()
    eye = torch.eye(length, dtype=torch.bool, device=pad.device)
    return allowed | eye


class SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        if heads <= 0 or hidden % heads:
            raise ConfigError(
                f"model.hidden={hidden} must be a multiple of model.heads={heads} (heads > 0); "
                f"e.g. model.hidden=64 model.heads=2"
            )
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.dropout = dropout

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, length, d = x.shape
        q, k, v = (
            self.qkv(x).view(b, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        )  # (B, H, L, d)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(b, length, d))


class TransformerBlock(nn.Module):
    """Post-norm, as in BERT4Rec and RecBole's SASRec: x = LN(x + Attn(x)); x = LN(x + FFN(x)).
    Pre-norm, as in the original SASRec code: x = x + Attn(LN(x)); x = x + FFN(LN(x))."""

    def __init__(
        self, hidden: int, heads: int, inner: int, dropout: float, attn_dropout: float, pre_norm: bool = False
    ) -> None:
        super().__init__()
        self.pre_norm = pre_norm
        self.attn = SelfAttention(hidden, heads, attn_dropout)
        self.ffn = nn.Sequential(nn.Linear(hidden, inner), nn.GELU(), nn.Linear(inner, hidden))
        self.norm1 = nn.LayerNorm(hidden, eps=1e-12)
        self.norm2 = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        if self.pre_norm:
            x = x + self.drop(self.attn(self.norm1(x), mask))
            return x + self.drop(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.drop(self.attn(x, mask)))
        return self.norm2(x + self.drop(self.ffn(x)))


class SequenceEncoder(nn.Module):
    """Item + position embeddings and a stack of transformer blocks. Positions count from the right end,
    so the most recent item always has the same position however much padding precedes it.

    ``norm="post"`` normalises the embedding sum and after every sublayer (BERT, RecBole). ``norm="pre"``
    follows Kang & McAuley's code: item embeddings scaled by sqrt(hidden), pre-norm blocks, and one
    LayerNorm on the output."""

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        hidden: int,
        layers: int,
        heads: int,
        inner: int,
        dropout: float,
        attn_dropout: float,
        causal: bool,
        norm: str = "post",
    ) -> None:
        super().__init__()
        if norm not in ("post", "pre"):
            raise ConfigError(f"model.norm must be 'post' or 'pre', got {norm!r}")
        check_sizes(
            {"hidden": hidden, "layers": layers, "heads": heads, "inner": inner},
            {"dropout": dropout, "attn_dropout": attn_dropout},
        )
        self.item_emb = nn.Embedding(vocab_size, hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(hidden, heads, inner, dropout, attn_dropout, pre_norm=norm == "pre")
            for _ in range(layers)
        )
        self.pre_norm = norm == "pre"
        self.causal = causal
        self.max_len = max_len
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()

    def forward(self, item_seq: Tensor) -> Tensor:
        item_seq = item_seq[:, -self.max_len :]
        length = item_seq.shape[1]
        pad = item_seq == 0  # (B, L)
        positions = torch.arange(self.max_len - length, self.max_len, device=item_seq.device)
        items = self.item_emb(item_seq)
        if self.pre_norm:
            x = self.drop(items * items.shape[-1] ** 0.5 + self.pos_emb(positions))  # (B, L, D)
        else:
            x = self.drop(self.norm(items + self.pos_emb(positions)))
        mask = attention_mask(pad, self.causal)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x) if self.pre_norm else x  # (B, L, D)
