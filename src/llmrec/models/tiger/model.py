"""TIGER: Rajput et al., "Recommender Systems with Generative Retrieval", NeurIPS 2023.

Every item is a short tuple of semantic-id codes (``item_tokenizer``: RQ-VAE over its text embedding in the
paper). A T5 encoder-decoder reads a user token and the codes of the user's last ``max_history`` items and
generates the next item's codes, trained with teacher forcing and cross-entropy. At evaluation
(``decode``):
- ``beam``: constrained beam search over the catalog's code trie returns the top-K distinct items (K the
  largest of ``cutoffs``, the evaluation's ``eval.ks``); they get descending scores and every other item
  one equal low score, ranked pessimistically by the shared evaluation (as LLMSeqPrompt's lists);
- ``exact``: the log-likelihood of every catalog item, so TIGER is ranked over the full catalog like every
  other model (the decoder runs once per distinct code prefix and user).
``compare_decodes`` computes both at test time and logs the gap (``test/beam_exact_recall_at_k``, and
``test/{beam,exact}_{hr,ndcg}_10``).

Departures from the paper:
- The default T5 is a tiny random stand-in (d_model 64, 2 encoder + 2 decoder layers, 4 heads; the paper:
  d_model 128, 4 + 4 layers, 6 heads, MLP 1024, dropout 0.1); ``backbone=<folder>`` loads any local
  Hugging Face T5 (no remote code), its token table resized to this vocabulary.
- Each level's codes have their own softmax (training and scoring): the head is restricted to the level's
  token range. The target has no end token (its length is fixed).
- Users are hashed to ``user_buckets`` tokens (2000, as the paper) by a fixed multiplicative hash; rows
  without user ids (and every row before a run binds users) get one unknown-user token.
- Beam search cuts branches made only of the row's items (and of the evaluation's masked history), so
  the K items it returns lie outside them (K remain after masking); the items the model read are scored
  at their own likelihood instead (a repeated target ranks where the model puts it), older history ties
  at the bottom with every other unlisted item.
- Training examples follow llmrec's sample schema (``train_targets``, ``train_positions``;
  :mod:`llmrec.models.layers.examples`), not the paper's one sequence per user. A batch expands to at most
  ``max_examples_per_batch`` examples (a random subset beyond that, as E4SRec's): a memory bound, since a
  window of L items is L examples (ML-100K's 200-item windows in batches of 256: ~50k examples a step, which
  ran out of memory); lower ``datamodule.batch_size`` on long-sequence data so that the bound rarely cuts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from llmrec.checks import positive_ints
from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError, DataError
from llmrec.evaluation.evaluator import check_cutoffs
from llmrec.models.base import LOW_SCORE, SequentialRecommender
from llmrec.models.layers.examples import cap_examples, example_mode, example_positions, prefixes_at
from llmrec.models.layers.llm import LLMSpec
from llmrec.models.tiger.beam import beam_search
from llmrec.models.tiger.decoder import PrefixDecoder, code_logits, decoder_scale
from llmrec.models.tiger.exact import exact_scores, item_log_likelihoods
from llmrec.models.tiger.gap import DecodeGap
from llmrec.models.tiger.trie import CodeTrie
from llmrec.models.tiger.vocab import EOS, PAD, START, CodeVocabulary
from llmrec.semantic_ids import ItemTokenizer

DECODES = ("beam", "exact")


class TIGER(SequentialRecommender):
    def __init__(
        self,
        num_items: int,
        max_len: int,
        item_tokenizer: ItemTokenizer,
        t5: Any = None,
        backbone: str | None = None,
        user_buckets: int = 2000,
        max_history: int = 20,
        num_beams: int = 20,
        cutoffs: Sequence[int] = (5, 10, 20),
        decode: str = "beam",
        compare_decodes: bool = False,
        exact_max_items: int = 20000,
        exact_rows: int = 32768,
        max_examples_per_batch: int | None = 4096,
        length_groups: int = 8,
        init_seed: int = 0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        train_targets: str = "all",
        train_positions: str = "full",
    ) -> None:
        super().__init__(num_items, max_len, lr, weight_decay)
        self.example_mode = example_mode(type(self).__name__, train_targets, train_positions)
        positive_ints(user_buckets=user_buckets, max_history=max_history, num_beams=num_beams)
        positive_ints(exact_max_items=exact_max_items, exact_rows=exact_rows)
        positive_ints(allow_none=True, max_examples_per_batch=max_examples_per_batch)
        positive_ints(length_groups=length_groups)
        self.max_examples_per_batch, self.length_groups = max_examples_per_batch, length_groups
        ks = check_cutoffs(cutoffs)
        self.top_k = max(ks)
        if num_beams < self.top_k:
            raise ConfigError(
                f"model.num_beams={num_beams} is below K={self.top_k}, the largest evaluation cutoff "
                f"(eval.ks={ks}): beam search returns at most num_beams items; "
                f"set model.num_beams>={self.top_k}"
            )
        if decode not in DECODES:
            raise ConfigError(f"model.decode={decode!r} is not one of {DECODES}")
        if backbone is None and t5 is None:
            raise ConfigError("set model.backbone=<T5 folder> or model.t5 (a transformers.T5Config)")
        self.item_tokenizer = item_tokenizer
        self.spec = LLMSpec(
            source=backbone,
            config=None if backbone is not None else t5,
            model_class="transformers.T5ForConditionalGeneration",
            freeze=False,
            init_seed=init_seed,
        )
        self.user_buckets, self.max_history, self.num_beams = user_buckets, max_history, num_beams
        self.decode, self.compare_decodes = decode, compare_decodes
        self.exact_max_items, self.exact_rows = exact_max_items, exact_rows
        self.t5: Any = None
        self.vocab: CodeVocabulary | None = None
        self.trie: CodeTrie | None = None
        self.register_buffer("item_codes", torch.zeros(num_items + 1, 1, dtype=torch.long), persistent=False)
        self.gap = DecodeGap(self.top_k)
        self.comparing = False  # set for the test pass when compare_decodes

    # --- setup ------------------------------------------------------------------------------
    def bind_data(self, item_counts: Tensor, item_text: list[str]) -> None:
        ids = self.item_tokenizer(list(item_text))
        if ids.num_items != self.num_items:
            raise DataError(
                f"the item tokenizer gave codes for {ids.num_items} items, the catalog has {self.num_items}"
            )
        self.vocab = CodeVocabulary(ids.level_sizes, self.user_buckets)
        self.trie = CodeTrie(ids)
        self.item_codes = torch.cat([ids.codes.new_zeros(1, ids.num_levels), ids.codes]).to(self.device)
        if self.decode == "exact" or self.compare_decodes:
            self.check_exact_size()

    def check_exact_size(self) -> None:
        if self.num_items > self.exact_max_items:
            raise ConfigError(
                f"exact scoring of {self.num_items} items exceeds "
                f"model.exact_max_items={self.exact_max_items}: "
                "it runs the decoder once per user for every distinct code prefix of the catalog and holds "
                "all of them at once; use model.decode=beam (with model.compare_decodes=false), or raise "
                "model.exact_max_items if the memory allows"
            )

    def configure_model(self) -> None:
        if self.t5 is not None:
            return
        if self.vocab is None:
            raise RuntimeError("call bind_data(item_counts, item_text) before configure_model()")
        tokens = {"pad_token_id": PAD, "eos_token_id": EOS, "decoder_start_token_id": START}
        t5 = self.spec.load({"vocab_size": self.vocab.size, **tokens})
        if self.spec.pretrained:  # a pretrained T5's own words mean nothing here: a table of our tokens
            t5.resize_token_embeddings(self.vocab.size)
            for key, value in tokens.items():
                setattr(t5.config, key, value)
        self.t5 = t5

    # --- the encoder and training -----------------------------------------------------------
    def encode(self, item_seq: Tensor, users: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Encoder states (B, S, D) and mask (B, S) of each row's user and last ``max_history`` items."""
        if self.t5 is None or self.vocab is None:
            raise RuntimeError("call bind_data(...) and configure_model() before scoring")
        history = item_seq[:, -self.max_history :]  # (B, M)
        user_tokens = self.vocab.user_tokens(users, history.shape[0], history.device)
        ids, mask = self.vocab.encoder_inputs(self.item_codes[history], history != 0, user_tokens)  # (B, S)
        return self.t5.encoder(input_ids=ids, attention_mask=mask).last_hidden_state, mask

    def loss(self, batch: SeqBatch) -> Tensor:
        """Mean cross-entropy over every example and code level. The examples are sorted by history
        length and encoded in ``length_groups`` groups, each padded only to its own longest history
        (the same loss as one group; most histories are far shorter than ``max_history``)."""
        rows, ends = example_positions(batch.items, self.example_mode)  # (E,) each
        rows, ends = cap_examples(rows, ends, self.max_examples_per_batch)
        if not len(rows):
            raise ConfigError("no training window has two items; check dataset.max_len and the data")
        prefixes, targets = prefixes_at(batch.items, rows, ends)  # (E, L), (E,)
        self.loss_targets = len(targets)
        users = None if batch.users is None else batch.users[rows]
        lengths = (prefixes[:, -self.max_history :] != 0).sum(dim=1)
        total = prefixes.new_zeros((), dtype=torch.float)
        for group in torch.argsort(lengths).tensor_split(self.length_groups):
            if len(group):
                total = total + self.code_loss_sum(
                    prefixes[group], targets[group], None if users is None else users[group]
                )
        return total / (len(targets) * self.item_codes.shape[1])

    def code_loss_sum(self, prefixes: Tensor, targets: Tensor, users: Tensor | None) -> Tensor:
        """The summed cross-entropy of every code of every target (E,) after its prefix (E, L)."""
        assert self.vocab is not None
        states, mask = self.encode(prefixes, users)
        codes = self.item_codes[targets]  # (E, C)
        start = torch.full_like(codes[:, :1], START)
        inputs = torch.cat([start, self.vocab.code_tokens(codes)[:, :-1]], dim=1)  # teacher forcing
        out = self.t5.decoder(input_ids=inputs, encoder_hidden_states=states, encoder_attention_mask=mask)
        hidden = out.last_hidden_state * decoder_scale(self.t5.config)  # (E, C, D)
        losses = [
            F.cross_entropy(
                code_logits(self.t5, hidden[:, level], offset, size).float(), codes[:, level], reduction="sum"
            )
            for level, (offset, size) in enumerate(
                zip(self.vocab.offsets, self.vocab.level_sizes, strict=True)
            )
        ]
        return torch.stack(losses).sum()

    # --- decoding ---------------------------------------------------------------------------
    def _decoder(self, states: Tensor, mask: Tensor) -> PrefixDecoder:
        assert self.vocab is not None
        return PrefixDecoder(self.t5, states, mask, self.vocab)

    def _trie(self) -> CodeTrie:
        assert self.trie is not None
        return self.trie.to(self.device)

    def excluded(self, item_seq: Tensor, seen: Tensor | None) -> Tensor:
        """(B, N+1) bool: the row's items and the evaluation's masked history, which beam search skips."""
        out = torch.zeros(item_seq.shape[0], self.num_items + 1, dtype=torch.bool, device=item_seq.device)
        out.scatter_(1, item_seq, True)
        if seen is not None:
            out.scatter_(1, seen, True)
        return out

    def beam_scores(
        self, history: Tensor, states: Tensor, mask: Tensor, excluded: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The beam's top-K (B, K) outside ``excluded``, best first (0: an empty slot), and scores
        (B, N+1): those items and the items read (``history`` (B, M)) at their log-likelihoods, every
        other item :data:`LOW_SCORE`, padding -inf."""
        decoder, trie = self._decoder(states, mask), self._trie()
        items, likelihoods = beam_search(decoder, trie, excluded, self.num_beams)  # (B, W) each
        top = items[:, : self.top_k]
        scores = torch.full((top.shape[0], self.num_items + 1), LOW_SCORE, device=top.device)
        scores.scatter_(1, history, item_log_likelihoods(decoder, trie, history))
        scores.scatter_(1, top, likelihoods[:, : self.top_k])
        scores[:, 0] = float("-inf")
        return top, scores

    def exact_scores(self, states: Tensor, mask: Tensor) -> Tensor:
        """(B, N+1) log-likelihood of every item's codes (column 0: -inf)."""
        self.check_exact_size()
        chunk = lambda rows: self._decoder(states[rows], mask[rows])  # noqa: E731
        return exact_scores(chunk, states.shape[0], self._trie(), self.exact_rows)

    @torch.no_grad()
    def scores(self, item_seq: Tensor, users: Tensor | None = None, seen: Tensor | None = None) -> Tensor:
        """(B, N+1) scores by ``decode``; ``users`` for the user tokens, ``seen`` history to skip."""
        history = item_seq[:, -self.max_history :]  # (B, M)
        states, mask = self.encode(history, users)
        if self.decode == "exact":
            return self.exact_scores(states, mask)
        return self.beam_scores(history, states, mask, self.excluded(item_seq, seen))[1]

    def forward(self, item_seq: Tensor, users: Tensor | None = None) -> Tensor:  # (B, L) -> (B, N+1)
        return self.scores(item_seq, users)

    # --- evaluation -------------------------------------------------------------------------
    @torch.no_grad()
    def _compared_scores(self, batch: SeqBatch) -> Tensor:
        rows = batch.items[:, :-1]
        history = rows[:, -self.max_history :]
        states, mask = self.encode(history, batch.users)
        excluded = self.excluded(rows, batch.seen)
        (top, beam), exact = (
            self.beam_scores(history, states, mask, excluded),
            self.exact_scores(states, mask),
        )
        self.gap.update(top, beam, exact, excluded, batch)
        return exact if self.decode == "exact" else beam

    def _eval_step(self, batch: SeqBatch) -> None:
        if self.comparing:
            scores = self._compared_scores(batch)
        else:
            scores = self.scores(batch.items[:, :-1], batch.users, batch.seen)
        self._evaluator().update(scores, batch, disposable=True)

    def on_test_epoch_start(self) -> None:
        super().on_test_epoch_start()
        self.comparing = self.compare_decodes
        self.gap.reset()

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        if self.comparing:
            self.log_dict({f"test/{name}": value for name, value in self.gap.metrics().items()})
        self.comparing = False
