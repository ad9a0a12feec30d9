"""Multi-head self-attention over item sequences and its mask, the part every block layout shares
(:mod:`llmrec.models.layers.blocks`); the encoder is :mod:`llmrec.models.layers.encoder`.

Attention masks combine key padding with (optionally) causality; every position may always attend to
itself, so an all-padding row never produces NaN from an empty softmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmrec.errors import ConfigError
from llmrec.models.layers.dropout import cheap_dropout


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
