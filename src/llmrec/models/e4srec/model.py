"""E4SRec: Li et al., "E4SRec: An Elegant Effective Efficient Extensible Solution of Large Language Models
for Sequential Recommendation", arXiv 2312.02443 (official code: HestiaSky/E4SRec).

Item-ID embeddings from a SASRec trained on the same data (stage 1, frozen) pass through a trainable
``Linear(id_dim, hidden)`` and sit, as "item tokens", between the token embeddings of an instruction
prefix and suffix. A frozen backbone with LoRA reads the whole prompt through ``inputs_embeds``; the last
position's hidden state goes through a trainable ``Linear(hidden, N+1)`` to a score for every item in one
forward pass, trained with full-softmax cross-entropy on the next item. Only that "pluggable" part
(input projection, LoRA, item projection) is trained and checkpointed; the backbone is rebuilt on load
(a random backbone from its spec's ``init_seed``, so every process builds the same one). The LoRA weights
are also exported as a peft adapter folder (:mod:`llmrec.models.layers.adapters`; ``adapters`` reads one).

Choices:
- Training positions: the official code (utils/data_utils.py, ``SequentialDataset(data_path, 50)``) trains
  on each user's last 50 training targets, each with its whole history: ``samples=last_targets`` with a
  ``dataset.max_len`` covering the longest user (``experiment=e4srec_paper``). Under the other schemas
  every position of a user's training part that has at least one item before it is a target, with the
  items before it as the history. The framework's training windows (``max_len + 1`` items) tile each
  training part so every position is a target once; each window is expanded into its prefixes, so a
  history holds at most ``max_len`` items, those inside its window.
  ``targets_per_window=k`` keeps k random positions per window instead (drawn afresh every batch): k
  forward passes per window rather than one per position (a subsampling of the schema's targets). These
  are ``train_targets: all`` (``samples=tiled`` or ``last_n``); ``train_targets: last`` (``samples=
  prefixes`` or ``last_targets``, one window per target) trains on each window's last position only.
  Unlike the official code, the first item (empty history) is never a target. A batch expands to at
  most ``max_examples_per_batch`` examples (a random subset beyond that), which bounds memory when a
  batch holds long windows.
- The prompt is left-padded as a whole (padding before the prefix), with position ids counted from each
  row's first real token, so padding never changes a row's scores.
- The frozen ID table is saved with the pluggable part (megabytes): a checkpoint is self-contained, and
  rows added for new items (:mod:`llmrec.models.e4srec.extend`) travel with it.
- A backbone built with random weights uses a word tokenizer over the prompt words (or the vocabulary
  saved with a stage-2 adapter); a pretrained one its own tokenizer.

Departures from the paper:
- The paper runs LLaMA-2-13B (its README's commands name Platypus2-70B-instruct), loaded in 8 bit; any
  Hugging Face backbone works here, in fp32 or bf16. With none named the config uses a tiny LLaMA with
  random weights (offline, logged as such); ``llm@model.llm=minilm`` the pretrained MiniLM;
  ``llm@model.llm=llama2_13b`` the paper's setting.
- The backbone's forward is its transformer body only (no LM head), as in the official ``LlamaModel``.
- Position ids follow the left padding (the official code leaves them at 0..T-1 over padding too).
- The prompt starts with the tokenizer's beginning-of-sequence token, where it has one; the official code
  tokenizes its template without special tokens (``prompt_bos: false``, as ``experiment=e4srec_paper``).
"""

from __future__ import annotations

import copy
import io
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmrec.checks import positive_int, positive_ints
from llmrec.data.batch import SeqBatch, trim_left_padding
from llmrec.errors import ConfigError
from llmrec.io import write_bytes_atomic
from llmrec.models.base import SequentialRecommender, check_train_targets
from llmrec.models.e4srec.id_table import load_id_table, placeholder_id_table
from llmrec.models.e4srec.instruct import merged_backbone, read_vocab
from llmrec.models.e4srec.prompts import PREFIX, SUFFIX, move_padding_left, prompt_positions
from llmrec.models.layers.adapters import load_adapters
from llmrec.models.layers.examples import cap_examples
from llmrec.models.layers.llm import LLMSpec, apply_lora, freeze
from llmrec.models.layers.tokenizers import HFTokenizer, WordTokenizer

log = logging.getLogger(__name__)

ID_TABLE = "id_table"
# random: the official start of the item projection; id_table: each item's row starts as its ID embedding
# through the input projection, so the first scores are h . W_in e_i (an llmrec option for the diagnosis)
ITEM_PROJ_INITS = ("random", "id_table")
VOCAB_FILE = "vocab.json"


def projections(id_dim: int, hidden: int, num_items: int) -> tuple[nn.Linear, nn.Linear]:
    """The trainable input projection (ID embedding -> hidden) and item projection (hidden -> N+1 scores,
    bias-free as the official ``score`` layer)."""
    return nn.Linear(id_dim, hidden), nn.Linear(hidden, num_items + 1, bias=False)


def transformer_body(backbone: Any) -> nn.Module:
    """The backbone without its LM head (LoRA layers are injected in place, so they stay active)."""
    model = backbone.get_base_model() if hasattr(backbone, "get_base_model") else backbone
    return model.base_model


class E4SRec(SequentialRecommender):
    """Stage 3 of E4SRec. ``id_embeddings`` (stage 1's SASRec) and ``instruct_adapter`` (stage 2) are
    filled in by the stages its config declares, which the runner runs before building it."""

    def __init__(
        self,
        num_items: int,
        max_len: int,
        llm: LLMSpec,
        id_embeddings: str | None = None,
        id_dim: int = 64,
        instruct_adapter: str | None = None,
        prompt_prefix: str = PREFIX,
        prompt_suffix: str = SUFFIX,
        prompt_bos: bool = True,
        item_proj_init: str = "random",
        train_id_table: bool = False,
        targets_per_window: int | None = None,
        max_examples_per_batch: int | None = 1024,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        train_targets: str = "all",
        adapters: str | None = None,
    ) -> None:
        super().__init__(num_items, max_len, lr, weight_decay)
        self.last_target_only = check_train_targets(type(self).__name__, train_targets) == "last"
        if llm.lora is None:
            raise ConfigError("E4SRec trains LoRA adapters: give llm.lora (e.g. r=16, alpha=16)")
        positive_int(id_dim, "model.id_dim")
        limits = {"targets_per_window": targets_per_window, "max_examples_per_batch": max_examples_per_batch}
        positive_ints(allow_none=True, **limits)
        if id_embeddings is None:
            log.warning(
                "model.id_embeddings is null and no stage-1 SASRec was trained (run through python -m "
                "llmrec, or point model.id_embeddings at a SASRec run): the frozen ID table is random"
            )
            table = placeholder_id_table(num_items, id_dim)
        else:
            table = load_id_table(id_embeddings, num_items)
        if item_proj_init not in ITEM_PROJ_INITS:
            raise ConfigError(f"model.item_proj_init={item_proj_init!r}: choose one of {ITEM_PROJ_INITS}")
        if train_id_table:
            self.id_table = nn.Parameter(table)  # a departure: the official table stays frozen
        else:
            self.register_buffer(ID_TABLE, table)  # (N+1, d), frozen as the official code
        self.item_proj_init = item_proj_init
        self.id_embeddings, self.instruct_adapter = id_embeddings, instruct_adapter
        self.adapters = adapters  # an exported adapters folder: the LoRA weights to start from
        self.spec, self.prompt_prefix, self.prompt_suffix = llm, prompt_prefix, prompt_suffix
        self.prompt_bos = prompt_bos
        self.targets_per_window, self.max_examples_per_batch = targets_per_window, max_examples_per_batch
        self.backbone: Any = None
        self.input_proj: nn.Linear | None = None
        self.item_proj: nn.Linear | None = None
        self.tokenizer: Any = None

    # --- setup ------------------------------------------------------------------------------
    def _make_tokenizer(self) -> Any:
        if self.spec.pretrained:
            return HFTokenizer(self.spec.tokenizer())
        if self.instruct_adapter is not None:
            return read_vocab(Path(self.instruct_adapter))
        return WordTokenizer([self.prompt_prefix, self.prompt_suffix])

    def _load_backbone(self) -> Any:
        tok = self.tokenizer
        overrides = {"vocab_size": len(tok), "pad_token_id": tok.pad_id, "eos_token_id": tok.eos_id}
        overrides["bos_token_id"] = tok.bos_id
        if self.instruct_adapter is None:
            return self.spec.load(overrides)
        base = copy.copy(self.spec)
        base.lora = None
        backbone = freeze(merged_backbone(base.load(overrides), Path(self.instruct_adapter)))
        assert self.spec.lora is not None
        return apply_lora(backbone, self.spec.lora)

    def configure_model(self) -> None:
        if self.backbone is not None:
            return
        self.tokenizer = self._make_tokenizer()
        self.backbone = self._load_backbone()
        hidden = int(self.backbone.config.hidden_size)
        self.input_proj, self.item_proj = projections(self.id_table.shape[1], hidden, self.num_items)
        if self.item_proj_init == "id_table":
            with torch.no_grad():
                self.item_proj.weight.copy_(self.id_table @ self.input_proj.weight.T)  # (N+1, H)
        bos = self.tokenizer.bos_id if self.prompt_bos else None
        prefix = [*([bos] if bos is not None else [])]
        prefix += self.tokenizer.encode(self.prompt_prefix)
        self.register_buffer("prefix_ids", torch.tensor(prefix, dtype=torch.long), persistent=False)
        suffix = torch.tensor(self.tokenizer.encode(self.prompt_suffix), dtype=torch.long)
        self.register_buffer("suffix_ids", suffix, persistent=False)
        built = (
            f"random {type(self.spec.config).__name__} (init_seed {self.spec.init_seed}; offline, no "
            "pretrained weights: name one with llm@model.llm=minilm or a local model)"
        )
        kind = self.spec.source or built
        log.info("E4SRec backbone: %s, hidden %d, %s", kind, hidden, self.parameter_counts())
        if self.adapters is not None:
            load_adapters(self, Path(self.adapters))

    # --- scoring ----------------------------------------------------------------------------
    def prompt_embeddings(self, item_seq: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T, H) prompt embeddings and (B, T) attention mask for a (B, L) left-padded history."""
        if self.backbone is None or self.input_proj is None:
            raise RuntimeError("call configure_model() before scoring")
        item_seq = item_seq[:, -self.max_len :]
        batch = item_seq.shape[0]
        words = transformer_body(self.backbone).get_input_embeddings()
        dtype = words.weight.dtype
        items = self.input_proj(self.id_table[item_seq]).to(dtype)  # (B, L, H)
        prefix = words(self.prefix_ids).expand(batch, -1, -1)  # (B, P, H)
        suffix = words(self.suffix_ids).expand(batch, -1, -1)  # (B, S, H)
        embeds = torch.cat([prefix, items, suffix], dim=1)  # (B, T, H)
        prefix_mask = torch.ones(batch, prefix.shape[1], dtype=torch.long, device=item_seq.device)
        suffix_mask = torch.ones(batch, suffix.shape[1], dtype=torch.long, device=item_seq.device)
        mask = torch.cat([prefix_mask, (item_seq != 0).long(), suffix_mask], dim=1)  # (B, T)
        return move_padding_left(embeds, mask)

    def last_hidden(self, item_seq: Tensor) -> Tensor:
        """(B, H) hidden state at the prompt's last position."""
        embeds, mask = self.prompt_embeddings(item_seq)
        out = transformer_body(self.backbone)(
            inputs_embeds=embeds, attention_mask=mask, position_ids=prompt_positions(mask)
        )
        return out.last_hidden_state[:, -1].float()  # (B, H)

    def forward(self, item_seq: Tensor) -> Tensor:
        assert self.item_proj is not None
        return self.item_proj(self.last_hidden(item_seq))  # (B, N+1)

    def training_examples(self, items: Tensor) -> tuple[Tensor, Tensor]:
        """(histories (M, L'), targets (M,)) from windows (B, L+1): each position with at least one item
        before it is a target, its earlier items the history; ``targets_per_window`` of them per window
        at random (all when null); only the last position with ``train_targets: last``."""
        width = items.shape[1] - 1
        valid = (items[:, 1:] != 0) & (items[:, :-1] != 0)  # (B, L): column c is target position c+1
        if self.last_target_only:
            valid[:, :-1] = False
        if self.targets_per_window is not None:
            draw = torch.rand(valid.shape, device=items.device).masked_fill(~valid, -1.0)
            picked = draw.topk(min(self.targets_per_window, width), dim=1).indices  # (B, k)
            chosen = torch.zeros_like(valid).scatter_(1, picked, True)
            valid = valid & chosen
        rows, cols = cap_examples(*valid.nonzero(as_tuple=True), self.max_examples_per_batch)
        ends = cols + 1  # the target's position; the history is items[row, :end]
        index = torch.arange(width, device=items.device)[None, :] + ends[:, None] - width  # (M, L)
        histories = torch.where(index >= 0, items[rows[:, None], index.clamp(min=0)], 0)
        return trim_left_padding(histories), items[rows, ends]

    def loss(self, batch: SeqBatch) -> Tensor:
        histories, targets = self.training_examples(batch.items)  # (M, L'), (M,)
        if len(targets) == 0:
            raise ConfigError("no training window has two items; check dataset.max_len and the data")
        self.loss_targets = len(targets)
        logits = self(histories)  # (M, N+1)
        logits[:, 0] = float("-inf")  # padding is never a target
        return F.cross_entropy(logits, targets)

    # --- the pluggable part: checkpoints and files ------------------------------------------
    def pluggable_state(self) -> dict[str, Tensor]:
        """Input projection, LoRA, item projection and the frozen ID table: all a checkpoint needs."""
        keep = {name for name, p in self.named_parameters() if p.requires_grad} | {ID_TABLE}
        return {k: v.detach().cpu() for k, v in self.state_dict().items() if k in keep}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        keep = set(self.pluggable_state())
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}

    def _check_hidden(self, state: dict[str, Tensor]) -> None:
        saved = state.get("input_proj.weight")
        if saved is None or self.input_proj is None:
            return
        if tuple(saved.shape) != tuple(self.input_proj.weight.shape):
            raise ConfigError(
                f"the saved E4SRec projection maps {saved.shape[1]}-d ID embeddings to hidden size "
                f"{saved.shape[0]}, but this backbone ({self.spec.source or 'random config'}) has "
                f"{self.input_proj.weight.shape[0]} <- {self.input_proj.weight.shape[1]}: load it with "
                "the llm config it was trained with"
            )

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        self._check_hidden(state_dict)
        table = state_dict.get(ID_TABLE)
        if table is not None and table.shape != self.id_table.shape:
            raise ConfigError(
                f"the saved ID table has {table.shape[0] - 1} items of dim {table.shape[1]}; this model "
                f"has {self.num_items} of dim {self.id_table.shape[1]}: same dataset and stage-1 SASRec?"
            )
        frozen = {name for name, p in self.named_parameters() if not p.requires_grad}
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if k not in frozen]
        if strict and (missing or result.unexpected_keys):
            raise ConfigError(
                f"E4SRec checkpoint mismatch: missing {missing[:5]}, unexpected {result.unexpected_keys[:5]}"
            )
        return result

    def save_pluggable(self, path: Path) -> None:
        buffer = io.BytesIO()
        torch.save(self.pluggable_state(), buffer)
        write_bytes_atomic(Path(path), buffer.getbuffer())

    def load_pluggable(self, path: Path) -> None:
        if not Path(path).is_file():
            raise ConfigError(f"no saved E4SRec part at {path}")
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
