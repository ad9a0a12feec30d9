"""The HSTU layer and encoder (Zhai et al., ICML 2024; the model is :mod:`llmrec.models.hstu`).

One block: ``U, V, Q, K = SiLU(LayerNorm(x) W)`` (one projection, no bias); pointwise aggregated attention
``A = SiLU(Q Kᵀ + rab) / max_len`` over the visible keys, without a softmax; the gated output
``x + Linear(Dropout(U ⊙ LayerNorm(A V)))``. The layer norms have no affine parameters, as in the
authors' research code (meta-recsys/generative-recommenders, ``research/modeling/sequential/hstu.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmrec.errors import ConfigError
from llmrec.models.layers.dropout import Dropout
from llmrec.models.layers.encoder import POSITIONS, check_sizes, position_ids
from llmrec.models.layers.transformer import attention_mask

NORM_EPS = 1e-6  # the research code's layer-norm epsilon


class RelativePositionBias(nn.Module):
    """A learned scalar per causal offset ``i - j`` in ``[0, max_len)``, added to every head's ``q_i·k_j``.

    The research code keeps one weight per offset in ``(-max_len, max_len)`` (only its time bias is
    bucketed, by log2 of the gap); a causal mask never reads the future offsets, so they are not stored.
    Offsets are differences of positions, so left padding does not change them."""

    def __init__(self, max_len: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_len).normal_(std=0.02))

    def forward(self, length: int) -> Tensor:
        pos = torch.arange(length, device=self.weight.device)
        return self.weight[(pos[:, None] - pos[None, :]).clamp(min=0)]  # (L, L); j > i is masked later


def pointwise_attention(
    q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None, visible: Tensor, norm: int
) -> Tensor:
    """``SiLU(q kᵀ + bias) / norm`` on the ``visible`` (B, 1, L, L) pairs, zero elsewhere, applied to ``v``.

    ``q``, ``k``: (B, H, L, dqk); ``v``: (B, H, L, dv); returns (B, H, L, dv). No softmax: a row without
    visible keys is zero rather than NaN, and the weights keep the strength of the user's engagement."""
    scores = q @ k.transpose(-2, -1)  # (B, H, L, L)
    if bias is not None:
        scores = scores + bias
    weights = F.silu(scores).masked_fill(~visible, 0.0) / norm
    return weights @ v


class HSTUBlock(nn.Module):
    """One sequential transduction unit: ``heads`` heads of ``qk_dim`` (queries, keys) and ``v_dim``
    (values, gates) over a ``hidden`` stream; the attention is divided by ``max_len``."""

    def __init__(
        self,
        hidden: int,
        heads: int,
        qk_dim: int,
        v_dim: int,
        dropout: float,
        max_len: int,
        relative_bias: bool,
    ) -> None:
        super().__init__()
        self.heads, self.qk_dim, self.v_dim, self.max_len = heads, qk_dim, v_dim, max_len
        self.uvqk = nn.Linear(hidden, 2 * heads * (v_dim + qk_dim), bias=False)
        nn.init.normal_(self.uvqk.weight, std=0.02)
        self.rab = RelativePositionBias(max_len) if relative_bias else None
        self.drop = Dropout(dropout)
        self.out = nn.Linear(heads * v_dim, hidden)
        nn.init.xavier_uniform_(self.out.weight)

    def forward(self, x: Tensor, visible: Tensor) -> Tensor:
        b, length, _ = x.shape
        normed = F.layer_norm(x, x.shape[-1:], eps=NORM_EPS)
        widths = [self.heads * self.v_dim] * 2 + [self.heads * self.qk_dim] * 2
        u, v, q, k = F.silu(self.uvqk(normed)).split(widths, dim=-1)  # (B, L, H*d) each
        q, k, v = (t.view(b, length, self.heads, -1).transpose(1, 2) for t in (q, k, v))  # (B, H, L, d)
        bias = self.rab(length) if self.rab is not None else None
        attn = pointwise_attention(q, k, v, bias, visible, self.max_len)  # (B, H, L, dv)
        attn = attn.transpose(1, 2).reshape(b, length, -1)  # (B, L, H*dv)
        gated = u * F.layer_norm(attn, attn.shape[-1:], eps=NORM_EPS)
        return x + self.out(self.drop(gated))  # (B, L, D)


class HSTUEncoder(nn.Module):
    """Item embeddings (scaled by sqrt(hidden)) + learned absolute positions, dropout, ``layers`` causal
    HSTU blocks. ``qk_dim`` and ``v_dim`` are per head; None gives ``hidden // heads``."""

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        hidden: int,
        layers: int,
        heads: int,
        qk_dim: int | None,
        v_dim: int | None,
        dropout: float,
        linear_dropout: float,
        relative_bias: bool,
        positions: str,
    ) -> None:
        super().__init__()
        if positions not in POSITIONS:
            raise ConfigError(f"model.positions must be one of {', '.join(POSITIONS)}; got {positions!r}")
        check_sizes({"hidden": hidden, "layers": layers, "heads": heads}, {})
        if (qk_dim is None or v_dim is None) and hidden % heads:
            raise ConfigError(
                f"model.hidden={hidden} is not a multiple of model.heads={heads}: set model.qk_dim and "
                "model.v_dim (per head), or a hidden size that heads divides"
            )
        qk_dim = hidden // heads if qk_dim is None else qk_dim
        v_dim = hidden // heads if v_dim is None else v_dim
        check_sizes(
            {"qk_dim": qk_dim, "v_dim": v_dim}, {"dropout": dropout, "linear_dropout": linear_dropout}
        )
        self.item_emb = nn.Embedding(vocab_size, hidden, padding_idx=0)
        nn.init.trunc_normal_(self.item_emb.weight, std=0.02, a=-0.04, b=0.04)
        self.item_emb.weight.data[0].zero_()
        self.pos_emb = nn.Embedding(max_len, hidden)
        std = hidden**-0.5
        nn.init.trunc_normal_(self.pos_emb.weight, std=std, a=-2 * std, b=2 * std)
        self.drop = Dropout(dropout)
        self.blocks = nn.ModuleList(
            HSTUBlock(hidden, heads, qk_dim, v_dim, linear_dropout, max_len, relative_bias)
            for _ in range(layers)
        )
        self.max_len = max_len
        self.positions_from_start = positions == "from_start"

    def forward(self, item_seq: Tensor) -> Tensor:
        item_seq = item_seq[:, -self.max_len :]
        pad = item_seq == 0  # (B, L)
        items = self.item_emb(item_seq) * self.item_emb.embedding_dim**0.5
        x = self.drop(items + self.pos_emb(position_ids(pad, self.max_len, self.positions_from_start)))
        visible = attention_mask(pad, causal=True)  # (B, 1, L, L): earlier real items and itself
        for block in self.blocks:
            x = block(x, visible)
        return x  # (B, L, D)
