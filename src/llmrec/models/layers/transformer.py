"""A small transformer encoder over item sequences, causal (SASRec) or bidirectional (BERT4Rec).

Attention masks combine key padding with (optionally) causality; every position may always attend to
itself, so an all-padding row never produces NaN from an empty softmax.

Four block layouts (``norm``):
- ``post``: x = LN(x + Attn(x)); x = LN(x + FFN(x)), as in BERT4Rec and RecBole's SASRec.
- ``pre``: x = x + Attn(LN(x)); x = x + FFN(LN(x)), the GPT-2 layout, with a final LayerNorm.
- ``original``: Kang & McAuley's SASRec code and its PyTorch ports: the query is normalised but keys and
  values are not, and each residual adds to the normalised stream: q = LN(x); x = q + Attn(q, x, x);
  h = LN(x); x = h + FFN(h); a final LayerNorm. Its FFN has dropout after the activation, and its
  query/key/value projection starts Xavier-uniform (PyTorch's MultiheadAttention and TF's dense layers
  in those codes), every other weight N(0, 0.02).
- ``ligr``: the gated pre-norm block of LinkedIn's LiGR (arXiv 2502.03417), the layer of eSASRec
  (Tikhonovich et al., RecSys 2025): x = x + sigmoid(G1 x) * Attn(LN(x)); x = x + sigmoid(G2 x) * FFN(LN(x)),
  the gates computed from the un-normalised stream; a final LayerNorm.
``pre``, ``original`` and ``ligr`` scale item embeddings by sqrt(hidden) before adding positions, as those
codes do. ``activation: swiglu`` makes the feed-forward down(dropout(silu(gate(x)) * up(x))), bias-free.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmrec.errors import ConfigError
from llmrec.models.layers.dropout import Dropout, cheap_dropout

NORMS = ("post", "pre", "original", "ligr")
ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU}
GATED_ACTIVATIONS = ("swiglu",)
POSITIONS = ("from_end", "from_start")


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

    def forward(self, x: Tensor, mask: Tensor, keys: Tensor | None = None) -> Tensor:
        """Self-attention over ``x``; with ``keys``, queries come from ``x`` and keys/values from ``keys``."""
        b, length, d = x.shape
        if keys is None:
            q, k, v = self.qkv(x).view(b, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        else:
            q = F.linear(x, self.qkv.weight[:d], self.qkv.bias[:d])
            k, v = F.linear(keys, self.qkv.weight[d:], self.qkv.bias[d:]).chunk(2, dim=-1)
            q, k, v = (t.view(b, length, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        p = self.dropout if self.training else 0.0
        if p > 0.0 and x.device.type == "cpu":
            y = explicit_attention(q, k, v, mask, p)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.out(y.transpose(1, 2).reshape(b, length, d))


def explicit_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, p: float) -> Tensor:
    """Scaled dot-product attention written out, with the cheap CPU dropout on the weights: PyTorch's
    CPU SDPA with dropout runs this same math path but draws its mask one element at a time."""
    scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    return cheap_dropout(weights, p, training=True) @ v


class SwiGLU(nn.Module):
    """Gated feed-forward: down(dropout(silu(gate(x)) * up(x))), without biases (LLaMA, LiGR)."""

    def __init__(self, hidden: int, inner: int, dropout: float) -> None:
        super().__init__()
        self.gate_up = nn.Linear(hidden, 2 * inner, bias=False)
        self.down = nn.Linear(inner, hidden, bias=False)
        self.drop = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(self.drop(F.silu(gate) * up))


def feed_forward(hidden: int, inner: int, dropout: float, norm: str, activation: str) -> nn.Module:
    if activation == "swiglu":
        return SwiGLU(hidden, inner, dropout)
    act = ACTIVATIONS[activation]()
    inner_layers = [act, Dropout(dropout)] if norm == "original" else [act]
    return nn.Sequential(nn.Linear(hidden, inner), *inner_layers, nn.Linear(inner, hidden))


class TransformerBlock(nn.Module):
    """One attention + feed-forward block in the ``norm`` layout the module docstring describes."""

    def __init__(
        self,
        hidden: int,
        heads: int,
        inner: int,
        dropout: float,
        attn_dropout: float,
        norm: str = "post",
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        self.layout = norm
        self.attn = SelfAttention(hidden, heads, attn_dropout)
        self.ffn = feed_forward(hidden, inner, dropout, norm, activation)
        self.norm1 = nn.LayerNorm(hidden, eps=1e-12)
        self.norm2 = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = Dropout(dropout)
        if norm == "ligr":
            self.gate1 = nn.Linear(hidden, hidden)
            self.gate2 = nn.Linear(hidden, hidden)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        if self.layout == "ligr":
            x = x + torch.sigmoid(self.gate1(x)) * self.drop(self.attn(self.norm1(x), mask))
            return x + torch.sigmoid(self.gate2(x)) * self.drop(self.ffn(self.norm2(x)))
        if self.layout == "original":
            q = self.norm1(x)
            x = q + self.attn(q, mask, keys=x)  # attention dropout only, as in the original code
            h = self.norm2(x)
            return h + self.drop(self.ffn(h))
        if self.layout == "pre":
            x = x + self.drop(self.attn(self.norm1(x), mask))
            return x + self.drop(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.drop(self.attn(x, mask)))
        return self.norm2(x + self.drop(self.ffn(x)))


class SequenceEncoder(nn.Module):
    """Item + position embeddings and a stack of transformer blocks.

    ``positions="from_end"`` counts positions from the right end, so the most recent item always has the
    same position however much padding precedes it (Kang & McAuley's left-padded code). ``"from_start"``
    counts from the first real item of the window, as right-padded ports do (Klenitskiy & Vasilev's
    SASRec+, the published ML-1M full-ranking figure); left padding changes neither."""

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
        activation: str = "gelu",
        positions: str = "from_end",
    ) -> None:
        super().__init__()
        for key, value, allowed in (
            ("norm", norm, NORMS),
            ("activation", activation, (*ACTIVATIONS, *GATED_ACTIVATIONS)),
            ("positions", positions, POSITIONS),
        ):
            if value not in allowed:
                raise ConfigError(f"model.{key} must be one of {', '.join(allowed)}; got {value!r}")
        check_sizes(
            {"hidden": hidden, "layers": layers, "heads": heads, "inner": inner},
            {"dropout": dropout, "attn_dropout": attn_dropout},
        )
        self.item_emb = nn.Embedding(vocab_size, hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(hidden, heads, inner, dropout, attn_dropout, norm, activation)
            for _ in range(layers)
        )
        self.post_norm = norm == "post"
        self.positions_from_start = positions == "from_start"
        self.causal = causal
        self.max_len = max_len
        self.apply(self._init)
        if norm in ("original", "ligr"):  # both codes' nn.MultiheadAttention keeps a Xavier in-projection
            for block in self.blocks:
                nn.init.xavier_uniform_(block.attn.qkv.weight)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()

    def position_ids(self, pad: Tensor) -> Tensor:
        """(B, L) or (L,) position ids of a left-padded (B, L) window."""
        length = pad.shape[1]
        if self.positions_from_start:
            return ((~pad).cumsum(1) - 1).clamp(min=0)
        return torch.arange(self.max_len - length, self.max_len, device=pad.device)

    def forward(self, item_seq: Tensor) -> Tensor:
        item_seq = item_seq[:, -self.max_len :]
        pad = item_seq == 0  # (B, L)
        items = self.item_emb(item_seq)
        positions = self.pos_emb(self.position_ids(pad))
        if self.post_norm:
            x = self.drop(self.norm(items + positions))
        else:
            x = self.drop(items * items.shape[-1] ** 0.5 + positions)  # (B, L, D)
        mask = attention_mask(pad, self.causal)
        for block in self.blocks:
            x = block(x, mask)
        return x if self.post_norm else self.norm(x)  # (B, L, D)
