"""Item towers for Lite-LLM4Rec (Wang et al., arXiv 2402.09543): each item's text -> one vector, cached.

Two towers behind one interface (the config picks one by ``_target_``):

- :class:`TextEncoderItems`: a frozen Item LLM that is one of the shared text encoders (``conf/encoder``:
  MiniLM by default), read through the on-disk embedding cache (:mod:`llmrec.embeddings.cache`): an item's
  text is embedded once, ever.
- :class:`ItemLLM`: a Hugging Face backbone (:class:`~llmrec.models.layers.llm.LLMSpec`) whose token
  states are pooled (``mean`` / ``first`` / ``last`` over real tokens) into one vector per item. Frozen, it
  encodes the catalog once (pretrained sources also through the on-disk cache). Trainable (LoRA, or
  ``train_top_layers`` unfrozen), the items of a training batch are re-encoded with gradients and the
  catalog table is refreshed once after each training epoch (lazily, before the next evaluation).

Counters: ``refresh_counts[i]`` is how many catalog passes encoded item ``i``; ``batch_encodings`` counts
items encoded with gradients inside training batches. Row 0 of a table is padding (zeros).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from llmrec.checks import positive_ints
from llmrec.data.batch import pad_batch
from llmrec.embeddings.cache import ItemEmbeddings, cached_embeddings
from llmrec.embeddings.encoders import mean_pool
from llmrec.errors import ConfigError
from llmrec.models.layers.llm import LLMSpec
from llmrec.models.layers.tokenizers import WordTokenizer
from llmrec.pretrained import source_revision

log = logging.getLogger(__name__)


def first_pool(states: Tensor, mask: Tensor) -> Tensor:
    """State of the first real token (right padding: column 0) -> (B, D)."""
    return states[:, 0]


def last_pool(states: Tensor, mask: Tensor) -> Tensor:
    """State of the last real token of each row (right padding) -> (B, D)."""
    last = mask.sum(1).clamp(min=1) - 1  # (B,)
    return states[torch.arange(states.shape[0], device=states.device), last]


POOLINGS = {"mean": mean_pool, "first": first_pool, "last": last_pool}


def check_pooling(name: str) -> str:
    if name not in POOLINGS:
        raise ConfigError(f"model.item_llm.pooling={name!r} is not a pooling; use one of {sorted(POOLINGS)}")
    return name


def largest_layer_stack(model: nn.Module) -> nn.ModuleList:
    """The transformer's block list (BERT ``encoder.layer``, T5 ``block``, LLaMA ``layers``): the longest
    ModuleList in the model."""
    stacks = [m for m in model.modules() if isinstance(m, nn.ModuleList)]
    if not stacks:
        raise ConfigError(f"{type(model).__name__} has no layer list; set model.item_llm.train_top_layers=0")
    return max(stacks, key=len)


def unfreeze_top_layers(model: nn.Module, count: int) -> None:
    stack = largest_layer_stack(model)
    if count > len(stack):
        raise ConfigError(f"model.item_llm.train_top_layers={count} but the Item LLM has {len(stack)} layers")
    for layer in list(stack)[len(stack) - count :]:
        layer.requires_grad_(True)


class ItemTower(nn.Module, ABC):
    """Shared bookkeeping: the cached (N+1, D) table and the encoding counters."""

    trainable: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.table: Tensor | None = None  # (N+1, D), row 0 = padding; not part of checkpoints
        self.stale = True
        self.refresh_counts = torch.zeros(0, dtype=torch.long)
        self.batch_encodings = 0

    def bind(self, texts: list[str]) -> None:
        self.texts = list(texts)
        self.refresh_counts = torch.zeros(len(texts) + 1, dtype=torch.long)
        self.stale = True

    def load(self) -> None:
        """Build what needs the texts (backbones, tokenizers); called from ``configure_model``."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Size of one item vector."""

    @abstractmethod
    def _encode_catalog(self) -> Tensor:  # (N, D)
        """Vectors of every item of the bound catalog, in id order."""

    def catalog(self) -> Tensor:
        """(N+1, D) vectors of every item, encoded once per refresh (no gradients)."""
        if self.table is None or self.stale:
            with torch.no_grad():
                vectors = self._encode_catalog().float()  # (N, D)
            self.table = torch.cat([vectors.new_zeros(1, vectors.shape[1]), vectors])  # (N+1, D)
            self.refresh_counts[1:] += 1
            self.stale = False
        return self.table

    def vectors(self, ids: Tensor) -> Tensor:
        """(..., D) vectors of ``ids`` (0 = padding -> zeros), from the cached table."""
        table = self.catalog()
        if table.device != ids.device:
            self.table = table = table.to(ids.device)  # moved once, not per batch
        return table[ids]


class TextEncoderItems(ItemTower):
    """A frozen Item LLM given as a shared text encoder, read through the on-disk embedding cache."""

    def __init__(self, embeddings: ItemEmbeddings) -> None:
        super().__init__()
        self.embeddings = embeddings

    @property
    def dim(self) -> int:
        return int(self.catalog().shape[1])

    def _encode_catalog(self) -> Tensor:
        return torch.from_numpy(self.embeddings(self.texts))  # (N, D)


class ItemLLM(ItemTower):
    """A Hugging Face backbone with pooling; re-encodes batch items with gradients when trainable."""

    def __init__(
        self,
        llm: LLMSpec,
        pooling: str = "mean",
        max_tokens: int = 32,
        batch_size: int = 128,
        train_top_layers: int = 0,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__()
        positive_ints("model.item_llm.", max_tokens=max_tokens, batch_size=batch_size)
        if train_top_layers < 0:
            raise ConfigError(f"model.item_llm.train_top_layers must be >= 0, got {train_top_layers}")
        self.spec, self.pooling = llm, check_pooling(pooling)
        self.max_tokens, self.batch_size, self.train_top_layers = max_tokens, batch_size, train_top_layers
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.backbone: Any = None
        self.tokens: list[list[int]] = []
        self.pad_id = 0

    def load(self) -> None:
        if self.backbone is not None:
            return
        if self.spec.pretrained:
            tokenizer = self.spec.tokenizer()
            self.pad_id = int(tokenizer.pad_token_id or 0)
            self.tokens = tokenizer(self.texts, truncation=True, max_length=self.max_tokens)["input_ids"]
            self.backbone = self.spec.load()
        else:
            words = WordTokenizer(self.texts)
            self.tokens = [words.encode(text)[: self.max_tokens] or [words.unk_id] for text in self.texts]
            self.backbone = self.spec.load({"vocab_size": len(words), "pad_token_id": words.pad_id})
        if self.train_top_layers:
            unfreeze_top_layers(self.backbone, self.train_top_layers)
        self.trainable = any(p.requires_grad for p in self.backbone.parameters())

    @property
    def dim(self) -> int:
        if self.backbone is None:
            raise RuntimeError("call load() (configure_model) before asking the Item LLM's size")
        return int(self.backbone.config.hidden_size)

    def encode_items(self, ids: list[int]) -> Tensor:
        """(len(ids), D) pooled vectors of items ``ids`` (1..N), batched; gradients as the caller allows."""
        device = next(self.backbone.parameters()).device
        pool = POOLINGS[self.pooling]
        chunks = []
        for start in range(0, len(ids), self.batch_size):
            rows = [self.tokens[i - 1] for i in ids[start : start + self.batch_size]]
            tokens, mask = (t.to(device) for t in pad_batch(rows, self.pad_id, left=False))  # (b, T)
            states = self.backbone(input_ids=tokens, attention_mask=mask).last_hidden_state  # (b, T, D)
            chunks.append(pool(states, mask))
        return torch.cat(chunks)

    # --- the TextEncoder protocol, so a frozen pretrained Item LLM goes through the on-disk cache -------
    def identity(self) -> dict[str, Any]:
        return {
            "type": "item-llm",
            "name": self.spec.source,
            "revision": source_revision(str(self.spec.source), self.spec.revision),
            "pooling": self.pooling,
            "max_tokens": self.max_tokens,
        }

    def encode(self, texts: list[str]) -> Any:
        if list(texts) != self.texts:
            raise RuntimeError("the Item LLM encodes its own catalog only")
        return self._encode_in_eval_mode().numpy()

    def _encode_in_eval_mode(self) -> Tensor:
        was_training = self.backbone.training
        self.backbone.eval()
        try:
            return self.encode_items(list(range(1, len(self.texts) + 1))).float().cpu()
        finally:
            self.backbone.train(was_training)

    def _encode_catalog(self) -> Tensor:
        if self.trainable or not self.spec.pretrained or self.cache_dir is None:
            return self._encode_in_eval_mode()
        vectors, _ = cached_embeddings(self, self.texts, self.cache_dir, label="item-llm")
        return torch.from_numpy(vectors)

    def batch_vectors(self, ids: Tensor) -> Tensor:
        """(..., D) vectors of ``ids`` with gradients: each distinct item of the batch encoded once."""
        unique, inverse = torch.unique(ids, return_inverse=True)  # padding 0 included, if present
        real = unique[unique != 0]
        fresh = self.encode_items(real.tolist()).float()  # (U, D)
        self.batch_encodings += len(real)
        rows = torch.cat([fresh.new_zeros(1, fresh.shape[1]), fresh]) if unique[0] == 0 else fresh
        return rows[inverse]  # (..., D)
