"""LLMSeqPrompt: Harte et al., "Leveraging Large Language Models for Sequential Recommendation", RecSys
2023 (extended in arXiv 2402.01339).

A causal LM is fine-tuned on prompts made of the titles of a user's recent items, with the next item's
title as the completion. At evaluation it generates titles, by default ``num_return_sequences`` by beam
search; each is mapped back to the catalog (exact match, else the nearest item by text embedding),
duplicates and hallucinations are filled from neighbours, and the resulting top-k gets descending scores
while every other item gets one equal low score, so the shared evaluation ranks it like any model. The
shares of exact matches and hallucinated titles are logged (``val/``, ``test/`` ``exact_match_share``,
``hallucination_share``). ``decoding: sample`` decodes as the authors' notebook does
(``main/openai/prompt_model/session_finetuned.ipynb``): ``top_k`` samples at ``temperature`` and ``top_p``
(their Beauty run: 0.5 and 1), each catalog title placed once in the order first sampled, then a nearest
item for every repeated or hallucinated sample (``CatalogMapper.map``). The samples come from a generator
seeded by ``sample_seed`` (the run's seed), so evaluating never moves training's random stream.

Departures from the paper:
- The authors fine-tune an OpenAI ada model through OpenAI's API; here any Hugging Face causal LM (LLaMA-2
  with LoRA on the feed-forward projections, or a tiny random LLaMA with a word tokenizer built from the
  catalog).
- Beam search is the default decoding (``decoding: beam``); the authors sample (``decoding: sample``).
- Training pairs (history, next item), the history cut to the last ``max_history`` items: by default
  (``train_positions: sample``) one pair per training window at a random position, drawn afresh each
  epoch, a subsampling of the targets of ``samples=tiled`` / ``last_n`` (``train_targets: all``);
  ``train_positions: full`` makes every target of a window a pair (one prompt per target, several times
  the compute); ``train_targets: last`` (``samples=prefixes``) the window's last item only.
- Items outside the generated top-k tie at the bottom (ranked pessimistically by the evaluation).
- Generation stops after as many tokens as the longest catalog title has, plus one for the end token
  (``max_new_tokens`` is only the upper bound).
- The short list is filled with the first item's text neighbours that are not in the input row (the
  official fill skips the prompt's items; here the whole row, which the evaluation masks). A generated
  title that maps to an item of the row keeps its place, as in the official code: the evaluation masks the
  history but keeps the target's score, so a repeated item the model predicts is a hit. The list runs on
  until it holds k items outside the row whenever the catalog has that many, so that k remain once the
  history is masked (:func:`top_k_outside_history`).
- On the embedded default (``dataset=synthetic``) the backbone is a stand-in: a tiny LLaMA with random
  weights, trained whole (conf/budget/synthetic_llmseqprompt.yaml), since LoRA on a frozen random network
  has nothing to adapt. Its numbers say the pipeline learns, not how a pretrained LLM would do.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from llmrec.checks import positive_ints
from llmrec.data.batch import SeqBatch, pad_batch
from llmrec.embeddings.cache import ItemEmbeddings
from llmrec.embeddings.catalog import CatalogMapper
from llmrec.embeddings.index import NearestNeighbors
from llmrec.errors import ConfigError
from llmrec.models.base import LOW_SCORE, SequentialRecommender
from llmrec.models.layers.adapters import load_adapters
from llmrec.models.layers.encoder import position_ids
from llmrec.models.layers.examples import example_mode
from llmrec.models.layers.llm import LLMSpec
from llmrec.models.layers.tokenizers import HFTokenizer, WordTokenizer
from llmrec.models.layers.trainable_checkpoint import TrainableOnlyCheckpoint


def top_k_outside_history(
    mapper: CatalogMapper, titles: list[list[str]], k: int, history: list[set[int]], sampled: bool = False
) -> list[list[int]]:
    """Per row, distinct item ids best first: the mapped titles and their fill, cut once the list holds
    ``min(k, N - |history[b]|)`` items outside ``history[b]``. History items keep their place: the
    evaluation masks them but keeps a repeated target's score. ``sampled``: the titles are samples
    (``CatalogMapper.map``)."""
    widest = max((len(seen) for seen in history), default=0)
    # Up to widest more items than k, so that k remain when the history's items are masked.
    wide = mapper.map(titles, k + widest, history, sampled)  # (B, min(k + widest, N)), distinct per row
    lists = []
    for row, seen in zip(wide.tolist(), history, strict=True):
        wanted, outside, kept = min(k, mapper.num_items - len(seen)), 0, []
        for item in row:
            if outside == wanted:
                break
            kept.append(item)
            outside += item not in seen
        lists.append(kept)
    return lists


class LLMSeqPrompt(TrainableOnlyCheckpoint, SequentialRecommender):
    def __init__(
        self,
        num_items: int,
        max_len: int,
        llm: LLMSpec,
        embeddings: ItemEmbeddings,
        index: NearestNeighbors | None = None,
        num_beams: int = 5,
        num_return_sequences: int = 5,
        top_k: int = 20,
        max_history: int = 10,
        max_prompt_tokens: int = 256,
        max_new_tokens: int = 32,
        separator: str = " ; ",
        prompt_end: str = " => ",
        lr: float = 5e-4,
        weight_decay: float = 0.0,
        train_targets: str = "all",
        train_positions: str = "sample",
        adapters: str | None = None,
        decoding: str = "beam",
        temperature: float = 0.5,
        top_p: float = 1.0,
        sample_seed: int = 0,
    ) -> None:
        super().__init__(num_items, max_len, lr, weight_decay)
        mode = example_mode(type(self).__name__, train_targets, train_positions)
        self.last_target_only = mode == "last"
        self.train_positions = train_positions
        if not 1 <= num_return_sequences <= num_beams:
            raise ConfigError(
                f"need 1 <= num_return_sequences ({num_return_sequences}) <= num_beams ({num_beams})"
            )
        positive_ints(top_k=top_k, max_history=max_history, max_new_tokens=max_new_tokens)
        if decoding not in ("beam", "sample"):
            raise ConfigError(f"model.decoding must be beam or sample, got {decoding!r}")
        if not (temperature > 0 and 0 < top_p <= 1):
            raise ConfigError(f"need temperature > 0 and 0 < top_p <= 1, got {temperature} and {top_p}")
        self.decoding, self.sample_seed = decoding, sample_seed
        self.temperature, self.top_p = temperature, top_p
        self.spec, self.embeddings, self.index = llm, embeddings, index
        self.num_beams, self.num_return_sequences, self.top_k = num_beams, num_return_sequences, top_k
        self.max_history, self.max_new_tokens = max_history, max_new_tokens
        self.generate_tokens = max_new_tokens
        self.max_prompt_tokens = max_prompt_tokens
        self.separator, self.prompt_end = separator, prompt_end
        self.adapters = adapters  # an exported adapters folder: the LoRA weights to start from
        self.lm: Any = None
        self.titles: list[str] = []
        self.tokenizer: Any = None
        self.mapper: CatalogMapper | None = None

    # --- setup ------------------------------------------------------------------------------
    def bind_data(self, item_counts: Tensor, item_text: list[str]) -> None:
        self.titles = list(item_text)
        # The word tokenizer also learns the separator's and prompt end's words: unknown, both would be
        # <unk>, which decoding drops and which makes "next title" and "end of prompt" one token.
        self.tokenizer = (
            HFTokenizer(self.spec.tokenizer())
            if self.spec.pretrained
            else WordTokenizer([*self.titles, self.separator, self.prompt_end])
        )
        # No title is longer than the longest catalog title (+ eos): beams stop there instead of at the cap.
        longest = max(len(self.tokenizer.encode(title)) for title in self.titles)
        self.generate_tokens = min(self.max_new_tokens, longest + 1)
        vectors = self.embeddings(self.titles)  # (N, D)
        self.mapper = CatalogMapper(self.titles, vectors, self.embeddings.encode_queries, self.index)

    def configure_model(self) -> None:
        if self.lm is not None:
            return
        if self.tokenizer is None:
            raise RuntimeError("call bind_data(item_counts, item_text) before configure_model()")
        tok = self.tokenizer
        overrides = {"vocab_size": len(tok), "pad_token_id": tok.pad_id, "eos_token_id": tok.eos_id}
        self.lm = self.spec.load({**overrides, "bos_token_id": tok.bos_id})
        if self.adapters is not None:
            load_adapters(self, Path(self.adapters))

    # --- prompts ----------------------------------------------------------------------------
    def _prompt(self, history: list[int]) -> list[int]:
        text = self.separator.join(self.titles[i - 1] for i in history[-self.max_history :]) + self.prompt_end
        ids = self.tokenizer.encode(text)[-self.max_prompt_tokens :]
        return ([self.tokenizer.bos_id] if self.tokenizer.bos_id is not None else []) + ids

    def _target_positions(self, length: int) -> list[int]:
        """Positions of a window of ``length`` real items trained as targets (each has a history)."""
        if length < 2:
            return []
        if self.last_target_only:
            return [length - 1]
        if self.train_positions == "sample":
            return [random.randint(1, length - 1)]
        return list(range(1, length))

    def training_examples(self, items: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(ids, attention mask, labels), each (B', T): prompt + next title + eos, loss on the completion.
        Left-padded like the generation prompts, so every completion ends at the last position."""
        rows, labels = [], []
        for seq in items.tolist():
            real = [i for i in seq if i != 0]
            for t in self._target_positions(len(real)):
                prompt = self._prompt(real[:t])
                completion = [*self.tokenizer.encode(self.titles[real[t] - 1]), self.tokenizer.eos_id]
                rows.append(prompt + completion)
                labels.append([-100] * len(prompt) + completion)
        if not rows:
            raise ConfigError("no training window has two items; check dataset.max_len and the data")
        ids, mask = pad_batch(rows, self.tokenizer.pad_id, left=True)
        target, _ = pad_batch(labels, -100, left=True)
        return ids, mask, target

    def loss(self, batch: SeqBatch) -> Tensor:
        ids, mask, labels = (t.to(self.device) for t in self.training_examples(batch.items))  # (B', T)
        self.loss_targets = len(ids)  # one completion (the next item's title) per row
        # Only the last (longest completion + 1) positions predict completion tokens. Projecting every prompt
        # position onto the vocabulary as well (B' x T x V floats, about 0.7 GB a step on Beauty's 17,791
        # words) made a step 2.9x slower (benchmarks/llmseqprompt_train_step.py).
        keep = int((labels != -100).sum(1).max()) + 1
        positions = position_ids(mask == 0, mask.shape[1], from_start=True)  # as generate() numbers prompts
        out = self.lm(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep)
        logits = out.logits[:, :-1].flatten(0, 1).float()  # position t's logits predict the token at t + 1
        return F.cross_entropy(logits, labels[:, 1 - keep :].flatten(), ignore_index=-100)

    # --- generation and mapping -------------------------------------------------------------
    def _decoding(self) -> dict[str, Any]:
        if self.decoding == "beam":
            return {"num_beams": self.num_beams, "num_return_sequences": self.num_return_sequences}
        # The official notebook asks the API for n = top-k completions at a temperature and top_p; the API
        # has no top-k filter of tokens, which generate() would otherwise apply (0 turns it off).
        return {
            "do_sample": True,
            "num_return_sequences": self.top_k,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": 0,
        }

    @torch.no_grad()
    def generate_titles(self, item_seq: Tensor) -> list[list[str]]:
        """Generated titles per row of ``item_seq`` (B, L): ``num_return_sequences`` beams, best first, or
        ``top_k`` samples in the order drawn."""
        prompts = [self._prompt([i for i in seq if i != 0]) for seq in item_seq.tolist()]
        ids, mask = pad_batch(prompts, self.tokenizer.pad_id, left=True)  # (B, T)
        settings = {"num_beams": 1, "do_sample": False, **self._decoding()}
        # Samples come from a generator of their own, so evaluating never moves training's random stream
        # and a checkpoint scores the same whenever it is evaluated.
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(self.sample_seed)
            out = self.lm.generate(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=self.generate_tokens,
                pad_token_id=self.tokenizer.pad_id,
                eos_token_id=self.tokenizer.eos_id,
                **settings,
            )  # (B * R, T + new)
        texts = []
        for row in out[:, ids.shape[1] :].tolist():
            end = row.index(self.tokenizer.eos_id) if self.tokenizer.eos_id in row else len(row)
            texts.append(self.tokenizer.decode(row[:end]))
        r = settings["num_return_sequences"]
        return [texts[b * r : (b + 1) * r] for b in range(len(prompts))]

    def forward(self, item_seq: Tensor) -> Tensor:
        if self.mapper is None or self.lm is None:
            raise RuntimeError("call bind_data(...) and configure_model() before scoring")
        history = [set(row) - {0} for row in item_seq.tolist()]  # the fill skips them (official code)
        titles = self.generate_titles(item_seq)
        lists = top_k_outside_history(self.mapper, titles, self.top_k, history, self.decoding == "sample")
        scores = torch.full(
            (item_seq.shape[0], self.num_items + 1), LOW_SCORE, device=self.device
        )  # (B, N+1)
        for row, items in enumerate(lists):  # scores len, len - 1, ..., 1 down the list
            ranks = torch.arange(len(items), 0, -1, dtype=scores.dtype, device=self.device)
            scores[row, torch.tensor(items, dtype=torch.long, device=self.device)] = ranks
        scores[:, 0] = float("-inf")
        return scores

    # --- reporting and checkpoints ----------------------------------------------------------
    def _log_mapping(self, stage: str) -> None:
        if self.mapper is not None:
            self.log_dict({f"{stage}/{k}": v for k, v in self.mapper.stats.shares().items()})

    def on_validation_epoch_start(self) -> None:
        super().on_validation_epoch_start()
        if self.mapper is not None:
            self.mapper.reset_stats()

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        self._log_mapping("val")

    def on_test_epoch_start(self) -> None:
        super().on_test_epoch_start()
        if self.mapper is not None:
            self.mapper.reset_stats()

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self._log_mapping("test")
