"""Output heads of the ID-based transformers: a transform of the final hidden state before it is scored
against the tied item table (``scores = head(h) @ items.T + bias``), one class each, chosen in the model
YAML by ``_target_`` (``model.head: {_target_: llmrec.models.layers.heads.ReluProjectionHead, _partial_:
true}``) and built by the model as ``head(hidden)``. The per-item bias belongs to the model.

- :class:`MaskedLMHead`: BERT's masked-LM transform (Linear -> GELU -> LayerNorm), BERT4Rec's head in the
  paper and in the authors' code (github FeiSun/BERT4Rec, ``modeling.py``).
- :class:`ReluProjectionHead` / :class:`GeluProjectionHead`: the ``ProjectionHead`` of Harte et al.'s code
  (github dh-r/LLM-Sequential-Recommendation, ``main/utils/neural_utils/custom_layers/projection_head.py``):
  a Keras ``Dense(emb_dim, activation)`` (Glorot-uniform weights, zero bias), then the tied item table
  and a per-item bias; no LayerNorm. The activation is the model's (its feed-forward's too):
  ``run_experiments.ipynb`` runs SASRec with ``relu``, BERT4Rec and LLM2BERT4Rec with ``gelu``
  (LLM2SASRec, SASRec with a text-initialised table, has no run there).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from torch import nn


class HeadFactory(Protocol):
    """A head class, or a ``_partial_`` of one from the config."""

    def __call__(self, hidden: int) -> nn.Module: ...


class MaskedLMHead(nn.Sequential):
    """Linear(hidden, hidden) -> GELU -> LayerNorm: BERT's transform before the tied output table. A
    ``Sequential`` so BERT4Rec's parameter names (``head.0.weight``) stay those of earlier releases."""

    def __init__(self, hidden: int) -> None:
        super().__init__(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden, eps=1e-12))


class ProjectionHead(nn.Sequential):
    """Linear(hidden, hidden) -> activation, initialised as Keras initialises ``Dense``."""

    activation: ClassVar[type[nn.Module]]

    def __init__(self, hidden: int) -> None:
        super().__init__(nn.Linear(hidden, hidden), self.activation())
        nn.init.xavier_uniform_(self[0].weight)
        nn.init.zeros_(self[0].bias)


class ReluProjectionHead(ProjectionHead):
    """Harte et al.'s projection head as their SASRec run uses it (``activation: relu``)."""

    activation = nn.ReLU


class GeluProjectionHead(ProjectionHead):
    """Harte et al.'s projection head as their BERT4Rec and LLM2BERT4Rec runs use it (``gelu``)."""

    activation = nn.GELU
