"""Accumulates full-ranking results over evaluation batches and turns them into metrics."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.evaluation.metrics import beyond_accuracy, rank_metrics
from llmrec.evaluation.ranking import Workspace, rank_and_top_k


def check_cutoffs(ks: Sequence[int]) -> list[int]:
    values = list(ks)
    if not values or any(not isinstance(k, int) or isinstance(k, bool) or k <= 0 for k in values):
        raise ConfigError(
            f"eval.ks must be a non-empty list of positive integers, got {values}; e.g. eval.ks=[5,10,20]"
        )
    return sorted(set(values))


class RankingEvaluator:
    """Ranks each target against the whole catalog; keeps per-user ranks and top-k lists on the CPU."""

    def __init__(self, ks: Sequence[int], item_counts: Tensor, num_train_users: int) -> None:
        self.ks = check_cutoffs(ks)
        self.item_counts = item_counts
        self.num_train_users = num_train_users
        self.workspace = Workspace()  # one scratch score matrix for the whole pass, freed by compute()
        self.reset()

    def reset(self) -> None:
        self._users: list[Tensor] = []
        self._ranks: list[Tensor] = []
        self._lists: list[Tensor] = []

    def update(self, scores: Tensor, batch: SeqBatch, disposable: bool = False) -> None:
        """Rank one batch of scores (B, N+1) against the whole catalog, history masked.
        ``disposable``: the caller will not read ``scores`` again, so ranking may overwrite them."""
        targets = batch.items[:, -1]
        k = max(self.ks)
        ranks, lists = rank_and_top_k(scores, targets, batch.seen, k, self.workspace, disposable)
        self._ranks.append(ranks.cpu())
        self._lists.append(lists.cpu())
        users = batch.users if batch.users is not None else torch.full_like(targets, -1)
        self._users.append(users.cpu())

    def local_state(self) -> tuple[Tensor, Tensor, Tensor]:
        """This process's (users, ranks, top-k lists), concatenated: what ranks exchange under DDP."""
        if not self._users:
            width = max(self.ks)
            return torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long), torch.empty(0, width)
        return torch.cat(self._users), torch.cat(self._ranks), torch.cat(self._lists)

    def load_states(self, states: Sequence[tuple[Tensor, Tensor, Tensor]]) -> None:
        """Replace the accumulated batches by the states of all processes (duplicates removed later)."""
        self.reset()
        for users, ranks, lists in states:
            if len(users):
                self._users.append(users)
                self._ranks.append(ranks)
                self._lists.append(lists)

    def per_user(self) -> tuple[Tensor, Tensor, Tensor]:
        """(users, ranks, top-k lists) sorted by user, each user once (samplers may repeat users)."""
        users, ranks, lists = torch.cat(self._users), torch.cat(self._ranks), torch.cat(self._lists)
        if not bool((users[1:] >= users[:-1]).all()):  # the usual sequential loader is already in order
            order = torch.argsort(users, stable=True)
            users, ranks, lists = users[order], ranks[order], lists[order]
        first = torch.ones_like(users, dtype=torch.bool)
        first[1:] = users[1:] != users[:-1]
        first |= users < 0
        return users[first], ranks[first], lists[first]

    def compute(self) -> dict[str, float]:
        self.workspace.release()
        _, ranks, lists = self.per_user()
        metrics = {name: float(values.mean()) for name, values in rank_metrics(ranks, self.ks).items()}
        metrics.update(beyond_accuracy(lists, self.ks, self.item_counts, self.num_train_users))
        return metrics
