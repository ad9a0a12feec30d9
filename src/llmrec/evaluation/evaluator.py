"""Accumulates ranking results over evaluation batches and turns them into metrics: full-catalog ranking,
or, where a batch carries sampled candidates (``protocol=sampled``), ranking among those candidates."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.evaluation.metrics import (
    NonFiniteScoresError,
    beyond_accuracy,
    mask_scores,
    rank_candidates,
    rank_metrics,
    sampled_ranks,
)
from llmrec.evaluation.ranking import Workspace, rank_and_top_k, rank_on_device


def check_cutoffs(ks: Sequence[int]) -> list[int]:
    values = list(ks)
    if not values or any(not isinstance(k, int) or isinstance(k, bool) or k <= 0 for k in values):
        raise ConfigError(
            f"eval.ks must be a non-empty list of positive integers, got {values}; e.g. eval.ks=[5,10,20]"
        )
    return sorted(set(values))


def _first_per_user(users: Tensor, *columns: Tensor) -> tuple[Tensor, ...]:
    """``users`` and ``columns`` sorted by user, each user once (samplers may repeat users)."""
    if not bool((users[1:] >= users[:-1]).all()):  # the usual sequential loader is already in order
        order = torch.argsort(users, stable=True)
        users, columns = users[order], tuple(column[order] for column in columns)
    first = torch.ones_like(users, dtype=torch.bool)
    first[1:] = users[1:] != users[:-1]
    first |= users < 0
    return users[first], *(column[first] for column in columns)


def _pad_columns(lists: Tensor, k: int) -> Tensor:
    """(B, k) lists, -1 in the columns past the candidates (fewer candidates than k)."""
    missing = k - lists.shape[1]
    return lists if missing <= 0 else torch.cat([lists, lists.new_full((lists.shape[0], missing), -1)], 1)


class RankingEvaluator:
    """Ranks each target against the whole catalog (or its batch's sampled candidates); keeps per-user
    ranks and top-k lists. With candidates, the top-k lists hold the best-scored candidates.

    ``export_k``: also keep each user's top ``export_k`` items and their scores (history masked as for
    the metrics), for ``eval.export_topk``; None (the default) keeps nothing more, since a (users, K)
    pair of tensors per pass is memory a plain evaluation does not need.

    ``on_device``: rank with :func:`~llmrec.evaluation.ranking.rank_on_device`, which never waits for the
    device, and keep every batch's results where the scores are until the pass ends: one copy to the
    host per pass, in :meth:`local_state` or :meth:`compute`. None (the default) does so wherever the
    scores are not on the CPU; on the CPU the in-place fast paths are faster. A NaN score is refused
    at the batch on the CPU path and when the pass ends on the device path, with the same error."""

    def __init__(
        self,
        ks: Sequence[int],
        item_counts: Tensor,
        num_train_users: int,
        export_k: int | None = None,
        on_device: bool | None = None,
    ) -> None:
        self.ks = check_cutoffs(ks)
        self.item_counts = item_counts
        self.num_train_users = num_train_users
        self.export_k = export_k
        self.on_device = on_device
        self.workspace = Workspace()  # one scratch score matrix for the whole pass, freed by compute()
        self.reset()

    def reset(self) -> None:
        # per batch (users, ranks, top-k lists[, export items, export scores]), on the scores' device
        # until the pass ends, then one host tuple of the whole pass (or the states of all processes)
        self._batches: list[tuple[Tensor, ...]] = []
        self._host: list[tuple[Tensor, ...]] = []

    def update(self, scores: Tensor, batch: SeqBatch, disposable: bool = False) -> None:
        """Rank one batch of scores (B, N+1) against the whole catalog, history masked.
        ``disposable``: the caller will not read ``scores`` again, so ranking may overwrite them."""
        targets = batch.items[:, -1]
        k = max(self.ks)
        on_device = self.on_device if self.on_device is not None else scores.device.type != "cpu"
        export: tuple[Tensor, ...] = ()
        if batch.candidates is not None:  # protocol=sampled: the target against its negatives only
            ranks, ranked = _sampled(scores, targets, batch.candidates, on_device)
            lists = _pad_columns(ranked[:, :k], k)
            if self.export_k is not None:
                export = self._top_candidates(scores, ranked, self.export_k)
        else:
            if self.export_k is not None:  # before ranking, which may overwrite disposable scores
                export = self._top_items(scores, targets, batch.seen, self.export_k)
            rank = rank_on_device if on_device else rank_and_top_k
            ranks, lists = rank(scores, targets, batch.seen, k, self.workspace, disposable)
        users = batch.users if batch.users is not None else torch.full_like(targets, -1)
        self._batches.append((users, ranks, lists, *export))

    @staticmethod
    def _top_items(scores: Tensor, targets: Tensor, seen: Tensor | None, k: int) -> tuple[Tensor, Tensor]:
        """(B, k) item ids and scores of the masked matrix the metrics rank (item -1: not rankable)."""
        values, items = torch.topk(mask_scores(scores, targets, seen), min(k, scores.shape[1]), dim=1)
        return torch.where(torch.isneginf(values), -1, items), values

    @staticmethod
    def _top_candidates(scores: Tensor, ranked: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """(B, k) best-scored candidates and their scores (item -1: fewer than k candidates)."""
        items = _pad_columns(ranked[:, :k], k)
        values = scores.float().gather(1, items.clamp(min=0))
        return items, torch.where(items < 0, float("-inf"), values)

    def _state(self) -> list[tuple[Tensor, ...]]:
        """The pass's results on the host: the batches kept on a device come back in one copy."""
        if self._batches:
            self._host.append(_to_host(self._batches))
            self._batches = []
        return self._host

    def local_state(self) -> tuple[Tensor, ...]:
        """This process's (users, ranks, top-k lists[, export items, export scores]), concatenated on
        the host: what ranks exchange under DDP."""
        state = self._state()
        if not state:
            width, empty = max(self.ks), torch.empty(0, dtype=torch.long)
            empties: tuple[Tensor, ...] = (empty, empty, torch.empty(0, width))
            return empties if self.export_k is None else (*empties, empty, torch.empty(0))
        columns = tuple(torch.cat(column) for column in zip(*state, strict=True))
        return columns[:3] if self.export_k is None else columns

    def load_states(self, states: Sequence[tuple[Tensor, ...]]) -> None:
        """Replace the accumulated batches by the states of all processes (duplicates removed later)."""
        self.reset()
        self._host = [tuple(state) for state in states if len(state[0])]

    def per_user(self) -> tuple[Tensor, Tensor, Tensor]:
        """(users, ranks, top-k lists) sorted by user, each user once (samplers may repeat users)."""
        users, ranks, lists = self.local_state()[:3]
        users, ranks, lists = _first_per_user(users, ranks, lists)
        return users, ranks, lists

    def exported(self) -> tuple[Tensor, Tensor, Tensor]:
        """(users, top ``export_k`` items, their scores) of the last pass, as :meth:`per_user`."""
        if self.export_k is None:
            raise RuntimeError("this evaluator keeps no top-K lists: create it with export_k=K")
        users, _, _, items, scores = self.local_state()
        users, items, scores = _first_per_user(users, items, scores)
        return users, items, scores

    def compute(self) -> dict[str, float]:
        self.workspace.release()
        _, ranks, lists = self.per_user()
        metrics = {name: float(values.mean()) for name, values in rank_metrics(ranks, self.ks).items()}
        metrics.update(beyond_accuracy(lists, self.ks, self.item_counts, self.num_train_users))
        return metrics


def _sampled(scores: Tensor, targets: Tensor, negatives: Tensor, on_device: bool) -> tuple[Tensor, Tensor]:
    """``sampled_ranks``; on the device path without its check, rank -1 marking rows with a NaN score."""
    if not on_device:
        return sampled_ranks(scores, targets, negatives)
    ranks, ranked = rank_candidates(scores, targets, negatives)
    return torch.where(scores.isnan().any(dim=1), -1, ranks), ranked


def _to_host(batches: list[tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
    """The batches' (users, ranks, lists[, export items, export scores]) concatenated on the host, in
    one device-to-host copy: every column packed side by side into one int64 block (float32 scores by
    their bit pattern, which comes back exactly). Refuses the pass if the device path marked a NaN."""
    columns = [torch.cat(column) for column in zip(*batches, strict=True)]
    if columns[1].device.type != "cpu":
        columns = _unpack(_pack(columns).cpu(), [c.shape[1] if c.dim() > 1 else 0 for c in columns])
    if bool((columns[1] < 0).any()):
        raise NonFiniteScoresError()
    return tuple(columns)


def _pack(columns: list[Tensor]) -> Tensor:
    as_int = [c.view(torch.int32).long() if c.dtype == torch.float32 else c.long() for c in columns]
    return torch.cat([c.reshape(len(c), -1) for c in as_int], dim=1)  # (R, total width)


def _unpack(block: Tensor, widths: list[int]) -> list[Tensor]:
    """The columns of :func:`_pack`: width 0 marks a (R,) column; the fifth (export scores) is float32."""
    parts = block.split([max(w, 1) for w in widths], dim=1)
    columns = [part if w else part[:, 0] for part, w in zip(parts, widths, strict=True)]
    if len(columns) == 5:
        columns[4] = columns[4].int().view(torch.float32)
    return columns
