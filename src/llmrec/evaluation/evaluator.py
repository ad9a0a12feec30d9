"""Accumulates ranking results over evaluation batches and turns them into metrics: full-catalog ranking,
or, where a batch carries sampled candidates (``protocol=sampled``), ranking among those candidates."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.evaluation.metrics import beyond_accuracy, mask_scores, rank_metrics, sampled_ranks
from llmrec.evaluation.ranking import Workspace, rank_and_top_k


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
    ranks and top-k lists on the CPU. With candidates, the top-k lists hold the best-scored candidates.

    ``export_k``: also keep each user's top ``export_k`` items and their scores (history masked as for
    the metrics), for ``eval.export_topk``; None (the default) keeps nothing more, since a (users, K)
    pair of tensors per pass is memory a plain evaluation does not need."""

    def __init__(
        self, ks: Sequence[int], item_counts: Tensor, num_train_users: int, export_k: int | None = None
    ) -> None:
        self.ks = check_cutoffs(ks)
        self.item_counts = item_counts
        self.num_train_users = num_train_users
        self.export_k = export_k
        self.workspace = Workspace()  # one scratch score matrix for the whole pass, freed by compute()
        self.reset()

    def reset(self) -> None:
        self._users: list[Tensor] = []
        self._ranks: list[Tensor] = []
        self._lists: list[Tensor] = []
        self._export: list[tuple[Tensor, Tensor]] = []

    def update(self, scores: Tensor, batch: SeqBatch, disposable: bool = False) -> None:
        """Rank one batch of scores (B, N+1) against the whole catalog, history masked.
        ``disposable``: the caller will not read ``scores`` again, so ranking may overwrite them."""
        targets = batch.items[:, -1]
        k = max(self.ks)
        if batch.candidates is not None:  # protocol=sampled: the target against its negatives only
            ranks, ranked = sampled_ranks(scores, targets, batch.candidates)
            lists = _pad_columns(ranked[:, :k], k)
            if self.export_k is not None:
                self._export.append(self._top_candidates(scores, ranked, self.export_k))
        else:
            if self.export_k is not None:  # before ranking, which may overwrite disposable scores
                self._export.append(self._top_items(scores, targets, batch.seen, self.export_k))
            ranks, lists = rank_and_top_k(scores, targets, batch.seen, k, self.workspace, disposable)
        self._ranks.append(ranks.cpu())
        self._lists.append(lists.cpu())
        users = batch.users if batch.users is not None else torch.full_like(targets, -1)
        self._users.append(users.cpu())

    @staticmethod
    def _top_items(scores: Tensor, targets: Tensor, seen: Tensor | None, k: int) -> tuple[Tensor, Tensor]:
        """(B, k) item ids and scores of the masked matrix the metrics rank (item -1: not rankable)."""
        values, items = torch.topk(mask_scores(scores, targets, seen), min(k, scores.shape[1]), dim=1)
        return torch.where(torch.isneginf(values), -1, items).cpu(), values.cpu()

    @staticmethod
    def _top_candidates(scores: Tensor, ranked: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """(B, k) best-scored candidates and their scores (item -1: fewer than k candidates)."""
        items = _pad_columns(ranked[:, :k], k)
        values = scores.float().gather(1, items.clamp(min=0))
        return items.cpu(), torch.where(items < 0, float("-inf"), values).cpu()

    def local_state(self) -> tuple[Tensor, ...]:
        """This process's (users, ranks, top-k lists[, export items, export scores]), concatenated:
        what ranks exchange under DDP."""
        if not self._users:
            width, empty = max(self.ks), torch.empty(0, dtype=torch.long)
            state: tuple[Tensor, ...] = (empty, empty, torch.empty(0, width))
            return state if self.export_k is None else (*state, empty, torch.empty(0))
        state = torch.cat(self._users), torch.cat(self._ranks), torch.cat(self._lists)
        if self.export_k is None:
            return state
        return *state, torch.cat([i for i, _ in self._export]), torch.cat([s for _, s in self._export])

    def load_states(self, states: Sequence[tuple[Tensor, ...]]) -> None:
        """Replace the accumulated batches by the states of all processes (duplicates removed later)."""
        self.reset()
        for users, ranks, lists, *export in states:
            if len(users):
                self._users.append(users)
                self._ranks.append(ranks)
                self._lists.append(lists)
                if export:
                    self._export.append((export[0], export[1]))

    def per_user(self) -> tuple[Tensor, Tensor, Tensor]:
        """(users, ranks, top-k lists) sorted by user, each user once (samplers may repeat users)."""
        users, ranks, lists = _first_per_user(
            torch.cat(self._users), torch.cat(self._ranks), torch.cat(self._lists)
        )
        return users, ranks, lists

    def exported(self) -> tuple[Tensor, Tensor, Tensor]:
        """(users, top ``export_k`` items, their scores) of the last pass, as :meth:`per_user`."""
        if self.export_k is None:
            raise RuntimeError("this evaluator keeps no top-K lists: create it with export_k=K")
        items = torch.cat([i for i, _ in self._export])
        scores = torch.cat([s for _, s in self._export])
        users, items, scores = _first_per_user(torch.cat(self._users), items, scores)
        return users, items, scores

    def compute(self) -> dict[str, float]:
        self.workspace.release()
        _, ranks, lists = self.per_user()
        metrics = {name: float(values.mean()) for name, values in rank_metrics(ranks, self.ks).items()}
        metrics.update(beyond_accuracy(lists, self.ks, self.item_counts, self.num_train_users))
        return metrics
