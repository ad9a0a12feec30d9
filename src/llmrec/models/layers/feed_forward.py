"""Position-wise feed-forward networks of a transformer block, one class each, chosen in the model YAML by
``_target_`` (``model.feed_forward: {_target_: llmrec.models.layers.feed_forward.ReluMLP, _partial_: true}``).

Each is built by its block as ``feed_forward(hidden, inner, dropout, activation_dropout=...)``; whether the
MLP drops out after its activation is the block layout's choice (the authors' SASRec code does), not the
feed-forward's.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import torch.nn.functional as F
from torch import Tensor, nn

from llmrec.models.layers.dropout import Dropout


class FeedForwardFactory(Protocol):
    """A feed-forward class, or a ``_partial_`` of one from the config."""

    def __call__(self, hidden: int, inner: int, dropout: float, activation_dropout: bool) -> nn.Module: ...


class MLP(nn.Sequential):
    """Linear(hidden, inner) -> activation [-> dropout] -> Linear(inner, hidden), with biases. A
    ``Sequential`` so parameter names (``ffn.0.weight``) and creation order stay those of earlier releases."""

    activation: ClassVar[type[nn.Module]]

    def __init__(self, hidden: int, inner: int, dropout: float, activation_dropout: bool = False) -> None:
        after_activation = [Dropout(dropout)] if activation_dropout else []
        super().__init__(
            nn.Linear(hidden, inner), self.activation(), *after_activation, nn.Linear(inner, hidden)
        )


class GeluMLP(MLP):
    """The GELU MLP of BERT, BERT4Rec and RecBole's SASRec."""

    activation = nn.GELU


class ReluMLP(MLP):
    """The ReLU MLP of Kang & McAuley's SASRec code."""

    activation = nn.ReLU


class SwiGLU(nn.Module):
    """Gated feed-forward: down(dropout(silu(gate(x)) * up(x))), without biases (LLaMA, LiGR). The dropout
    on the gated product is part of the design, so it is there whatever ``activation_dropout`` says."""

    def __init__(self, hidden: int, inner: int, dropout: float, activation_dropout: bool = True) -> None:
        super().__init__()
        self.gate_up = nn.Linear(hidden, 2 * inner, bias=False)
        self.down = nn.Linear(inner, hidden, bias=False)
        self.drop = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(self.drop(F.silu(gate) * up))
