"""Lite-LLM4Rec: Wang et al., "Rethinking Large Language Model Architectures for Sequential
Recommendations", arXiv 2402.09543.

A hierarchy of two LLMs and a scoring head, with no beam search and no text decoding:
- the **Item LLM** turns each item's text into one vector (``layers.item_towers``); vectors are cached per
  catalog, so inference never runs it;
- the **Rec LLM** (T5 encoder in the paper; any Hugging Face encoder or decoder here) reads the user's
  item vectors through a linear projection to its hidden size, as ``inputs_embeds`` with an attention
  mask (left padding);
- the **item projection head**, an MLP, maps the user representation to scores over all N+1 items in one
  pass, trained with full-softmax cross-entropy.

Training examples (``train_positions``), counted on the framework's training windows (each user's training
part tiled into windows of ``max_len + 1`` items, :meth:`LeaveOneOut.train_window_positions`):
- ``full`` (full traversal): every position of a window that has at least one item before it is a target,
  with the items before it as input. Per epoch: sum over users of (training-part length - 1) examples.
- ``sample``: one such position per window, drawn uniformly afresh each epoch. Per epoch: the number of
  windows, sum over users of ceil((training-part length - 1) / max_len); that is one example per user per
  epoch for every user whose training part fits in one window (length <= max_len + 1).
On Amazon Beauty (5-core, max_len 50): full = 131,413 examples per epoch, sample = 22,512 (22,363 users).
These are the positions of ``train_targets: all`` (``samples=tiled``; ``samples=last_n`` has one window per
user), ``sample`` a subsampling of them. ``train_targets: last`` (``samples=prefixes``, one window per
target) trains on each window's last position only, whatever ``train_positions`` says.

Departures and choices (the paper leaves these open or has no public code):
- Item LLM: the embedded default is the frozen MiniLM (all-MiniLM-L6-v2, the shared text encoder and its
  on-disk cache) instead of a T5/LLaMA item encoder; ``ItemLLM`` takes any Hugging Face backbone, pooling
  ``mean`` (default), ``first`` or ``last`` token over real tokens, item text cut to ``max_tokens``.
- A trainable Item LLM (LoRA or top layers) re-encodes only the distinct items of each training batch with
  gradients; the catalog table used for ranking is refreshed once per training epoch (before the epoch's
  validation), never per step.
- Items with empty text (blank, or the dataset's ``empty_text`` marker) are encoded from the placeholder
  ``"item <id>"`` so they stay distinct; how many is logged and kept in ``empty_items``.
- Rec LLM: a tiny random T5 encoder by default, fully trained (the paper fine-tunes its T5); LoRA by
  config; a pretrained T5 by ``model.rec_llm.source=<folder> model.rec_llm.config=null``.
  ``model=lite_llm4rec_minilm`` puts the pretrained all-MiniLM-L6-v2 (BERT, 6 layers, 384-d; the one
  pretrained transformer every machine has) there instead, fully fine-tuned as the T5 is. Its token
  embedding table is unused (inputs are item vectors) and frozen, and so is a BERT pooler (it reads
  position 0, not the state used here). The user
  representation is the Rec LLM's last hidden state at the last position (the most recent item); a
  backbone that takes ``position_ids`` gets positions counted from the first real item, so left padding
  never changes a score (T5's relative positions need none; BERT's learned absolute positions do, and a
  bidirectional encoder's padding is kept out by the attention mask).
- Each training example is its own left-padded prefix (no causal-mask trick), so a bidirectional encoder
  never sees the item it predicts; full traversal costs one Rec-LLM row per target (B x L rows of L items),
  so its configs turn on the Rec LLM's gradient checkpointing, which here also recomputes the rows' item
  vectors in the backward pass: the same numbers, half the memory of a step.
- Head: Linear(H, head_hidden) -> GELU -> dropout -> Linear(head_hidden, N+1); padding column masked to
  -inf. Projection: one Linear(item_dim, H) with dropout on the item vectors.
- Checkpoints keep the trainable tensors only; frozen backbones are rebuilt from their spec.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from llmrec.checks import positive_ints
from llmrec.data.batch import SeqBatch
from llmrec.data.item_text import fill_empty_texts
from llmrec.errors import ConfigError
from llmrec.models.base import SequentialRecommender
from llmrec.models.layers.adapters import load_adapters
from llmrec.models.layers.examples import example_mode, training_examples
from llmrec.models.layers.item_towers import ItemLLM, ItemTower
from llmrec.models.layers.llm import LLMSpec
from llmrec.models.layers.trainable_checkpoint import TrainableOnlyCheckpoint

log = logging.getLogger(__name__)


def freeze_poolers(model: nn.Module) -> None:
    """Freeze the parameters of any ``pooler`` submodule (BERT's, fed by position 0: unused here, so never
    updated; frozen, it is neither counted nor saved as trained)."""
    for name, parameter in model.named_parameters():
        if ".pooler." in f".{name}":
            parameter.requires_grad_(False)


def check_positions_fit(config: Any, max_len: int) -> None:
    """A learned absolute position table (BERT) must have a row for every position of a sequence."""
    table = getattr(config, "max_position_embeddings", None)
    if (
        getattr(config, "position_embedding_type", None) == "absolute"
        and table is not None
        and max_len > table
    ):
        raise ConfigError(
            f"dataset.max_len={max_len} is longer than the Rec LLM's {table} learned positions: set "
            f"dataset.max_len<={table} or choose another Rec LLM (llm@model.rec_llm=<name>)"
        )


class LiteLLM4Rec(TrainableOnlyCheckpoint, SequentialRecommender):
    def __init__(
        self,
        num_items: int,
        max_len: int,
        item_llm: ItemTower,
        rec_llm: LLMSpec,
        item_dim: int | None = None,
        head_hidden: int | None = None,
        dropout: float = 0.1,
        train_positions: str = "full",
        empty_text: str = "[no text]",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        train_targets: str = "all",
        adapters: str | None = None,
    ) -> None:
        super().__init__(num_items, max_len, lr, weight_decay)
        mode = example_mode(type(self).__name__, train_targets, train_positions)
        positive_ints(allow_none=True, item_dim=item_dim, head_hidden=head_hidden)
        self.item_llm, self.rec_spec = item_llm, rec_llm
        self.item_dim, self.head_hidden, self.dropout = item_dim, head_hidden, dropout
        self.train_positions, self.empty_text = train_positions, empty_text
        self.example_mode = mode  # training_examples' mode
        self.adapters = adapters  # an exported adapters folder: the LoRA weights to start from
        self.empty_items = 0
        self.rec: Any = None
        self.projection: nn.Module | None = None
        self.head: nn.Module | None = None
        self.takes_positions = False

    # --- setup ------------------------------------------------------------------------------
    def bind_data(self, item_counts: Tensor, item_text: list[str]) -> None:
        texts, self.empty_items = fill_empty_texts(list(item_text), self.empty_text)
        if self.empty_items:
            log.warning(
                "Lite-LLM4Rec: %d of %d items have empty text; each is encoded from 'item <id>'",
                self.empty_items,
                len(texts),
            )
        self.item_llm.bind(texts)

    def configure_model(self) -> None:
        if self.rec is not None:
            return
        if not self.item_llm.texts:
            raise RuntimeError("call bind_data(item_counts, item_text) before configure_model()")
        self.item_llm.load()
        dim = self.item_llm.dim
        if self.item_dim is not None and dim != self.item_dim:
            raise ConfigError(
                f"the Item LLM gives {dim}-d item vectors but model.item_dim={self.item_dim}: set "
                f"model.item_dim={dim} (or null to take it from the Item LLM)"
            )
        self.rec = self.rec_spec.load({"vocab_size": 8})  # inputs are item vectors: a token table is unused
        self.rec.get_input_embeddings().requires_grad_(False)
        freeze_poolers(self.rec)
        backbone = self.rec.get_base_model() if hasattr(self.rec, "get_base_model") else self.rec  # peft
        self.takes_positions = "position_ids" in inspect.signature(backbone.forward).parameters
        if self.takes_positions:
            check_positions_fit(self.rec.config, self.max_len)
        hidden = int(self.rec.config.hidden_size)
        inner = self.head_hidden or hidden
        self.projection = nn.Sequential(nn.Dropout(self.dropout), nn.Linear(dim, hidden))
        self.head = nn.Sequential(
            nn.Linear(hidden, inner),
            nn.GELU(),
            nn.Dropout(self.dropout),
            nn.Linear(inner, self.num_items + 1),
        )
        if self.adapters is not None:
            load_adapters(self, Path(self.adapters))

    # --- scoring ----------------------------------------------------------------------------
    def _item_vectors(self, item_seq: Tensor) -> Tensor:
        if self.training and self.item_llm.trainable:
            assert isinstance(self.item_llm, ItemLLM)
            self.item_llm.stale = True  # weights change this step: refresh the catalog before ranking
            return self.item_llm.batch_vectors(item_seq)  # (B, L, D) with gradients
        return self.item_llm.vectors(item_seq)  # (B, L, D) from the cache

    def _project(self, item_seq: Tensor) -> Tensor:
        assert self.projection is not None
        return self.projection(self._item_vectors(item_seq))  # (B, L, H)

    def _input_embeddings(self, item_seq: Tensor) -> Tensor:
        """(B, L, H) Rec-LLM inputs. Under gradient checkpointing the (B, L, item_dim) item vectors and
        their dropout mask are recomputed in the backward pass (the RNG state is restored, so the same mask)
        instead of being kept: with full traversal B is every position of every window. A trainable Item
        LLM is not recomputed (it would encode the batch's items twice)."""
        if self.training and self.rec_spec.gradient_checkpointing and not self.item_llm.trainable:
            return checkpoint(self._project, item_seq, use_reentrant=False)
        return self._project(item_seq)

    def user_states(self, item_seq: Tensor) -> Tensor:
        """(B, H) Rec-LLM state at the last position of each left-padded sequence (B, L)."""
        if self.rec is None or self.projection is None:
            raise RuntimeError("call bind_data(...) and configure_model() before scoring")
        mask = (item_seq != 0).long()  # (B, L)
        embeds = self._input_embeddings(item_seq)  # (B, L, H)
        extra = {}
        if self.takes_positions:
            extra["position_ids"] = (mask.cumsum(1) - 1).clamp(min=0)
        out = self.rec(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True, **extra)
        states = getattr(out, "last_hidden_state", None)  # encoders, base decoders
        if states is None:  # a *ForCausalLM wrapper: its last hidden states
            states = out.hidden_states[-1]
        return states[:, -1]  # (B, H)

    def forward(self, item_seq: Tensor) -> Tensor:
        assert self.head is not None
        scores = self.head(self.user_states(item_seq))  # (B, N+1)
        scores[:, 0] = float("-inf")
        return scores

    def loss(self, batch: SeqBatch) -> Tensor:
        prefixes, targets = training_examples(batch.items, self.example_mode)  # (E, L), (E,)
        if targets.numel() == 0:
            raise ConfigError("no training window has two items; check dataset.max_len and the data")
        self.loss_targets = targets.numel()
        return F.cross_entropy(self(prefixes), targets)

    # --- cache refresh and checkpoints -------------------------------------------------------
    def on_train_epoch_end(self) -> None:
        if self.item_llm.trainable:
            self.item_llm.catalog()  # refreshed only if training changed the Item LLM since the last pass

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        if any(key.startswith("item_llm.") for key in state_dict):
            self.item_llm.stale = True  # the Item LLM's weights changed: re-encode before ranking
        return result
