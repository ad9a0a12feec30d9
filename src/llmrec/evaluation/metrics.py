"""The reference full-ranking metrics, pure functions over tensors (DESIGN.md section 4): the part to audit.

Ranks are 0-based and pessimistic: rank = items scoring strictly higher + *other* items scoring equal,
so a constant scorer gets no credit. Column 0 (padding) is never ranked; history items are masked when
given, but never the target itself. Per user, with one relevant item: HR@k = [rank < k],
NDCG@k = 1/log2(rank + 2) and MRR@k = 1/(rank + 1) when rank < k, else 0. Over the top-k lists: coverage,
novelty and average recommendation popularity. Sampled ranking (``protocol=sampled``, :func:`sampled_ranks`)
ranks the target among its own candidates only (the target and its negatives), with the same pessimistic
ties and the same per-user metrics; its top-k lists are the best-scored candidates.

The evaluator ranks with :func:`llmrec.evaluation.ranking.rank_and_top_k`, a faster path that gives exactly
what :func:`mask_scores`, :func:`target_ranks` and :func:`top_k` give here (tests/test_eval_fast_path.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from llmrec.errors import LlmrecError


class NonFiniteScoresError(LlmrecError):
    """A model produced NaN scores; ranking them would give a meaningless number."""

    def __init__(self) -> None:
        super().__init__(
            "the model produced NaN scores; evaluation refuses to rank them (check the learning rate, "
            "or the model's inputs for an empty or all-padding sequence)"
        )


def mask_scores(scores: Tensor, targets: Tensor, seen: Tensor | None = None) -> Tensor:
    """Copy of ``scores`` (B, N+1) with padding and seen items set to -inf; the target keeps its score."""
    if torch.isnan(scores).any():
        raise NonFiniteScoresError()
    # A model's own -inf becomes the lowest finite value, so masked items (-inf) never tie with it.
    masked = torch.nan_to_num(scores.float(), neginf=torch.finfo(torch.float32).min)
    rows = torch.arange(scores.shape[0], device=scores.device)
    target_scores = masked[rows, targets]
    if seen is not None:
        masked.scatter_(1, seen, float("-inf"))
    masked[:, 0] = float("-inf")
    masked[rows, targets] = target_scores
    return masked


def target_ranks(masked: Tensor, targets: Tensor) -> Tensor:
    """(B,) 0-based pessimistic rank of each target among the unmasked items of its row."""
    rows = torch.arange(masked.shape[0], device=masked.device)
    target_scores = masked[rows, targets].unsqueeze(1)
    higher = (masked > target_scores).sum(dim=1)
    ties = (masked == target_scores).sum(dim=1) - 1  # the target itself is not a tie
    return higher + ties


def top_k(masked: Tensor, k: int) -> Tensor:
    """(B, k) item ids by descending score; -1 where fewer than k items are rankable."""
    k = min(k, masked.shape[1])
    values, items = torch.topk(masked, k, dim=1)
    return torch.where(torch.isneginf(values), -1, items)


def sampled_ranks(scores: Tensor, targets: Tensor, negatives: Tensor) -> tuple[Tensor, Tensor]:
    """Sampled ranking (``protocol=sampled``): each target against its row's negatives (B, C) only.

    Returns the (B,) 0-based pessimistic rank of the target among its 1 + C candidates (negatives scoring
    strictly higher + negatives scoring equal; negatives never include the target or the history) and the
    (B, 1 + C) candidates by descending score, target included: the top-k lists of the beyond-accuracy
    metrics are their first k columns (ties in candidate order, the target first)."""
    if torch.isnan(scores).any():
        raise NonFiniteScoresError()
    return rank_candidates(scores, targets, negatives)


def rank_candidates(scores: Tensor, targets: Tensor, negatives: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`sampled_ranks` without its NaN check (the device path marks NaN rows instead)."""
    candidates = torch.cat([targets.unsqueeze(1), negatives], dim=1)  # (B, 1 + C), the target first
    picked = scores.float().gather(1, candidates)  # (B, 1 + C)
    target_scores = picked[:, :1]
    ranks = (picked[:, 1:] >= target_scores).sum(dim=1)  # higher, plus ties counted against the target
    order = torch.sort(picked, dim=1, descending=True, stable=True).indices
    return ranks, candidates.gather(1, order)


def rank_metrics(ranks: Tensor, ks: Sequence[int]) -> dict[str, Tensor]:
    """Per-user HR@k, NDCG@k and MRR@k from 0-based ranks (one relevant item per user)."""
    ranks = ranks.double()
    out: dict[str, Tensor] = {}
    for k in ks:
        hit = ranks < k
        out[f"hr_{k}"] = hit.double()
        out[f"ndcg_{k}"] = torch.where(hit, 1.0 / torch.log2(ranks + 2.0), 0.0)
        out[f"mrr_{k}"] = torch.where(hit, 1.0 / (ranks + 1.0), 0.0)
    return out


def beyond_accuracy(
    lists: Tensor, ks: Sequence[int], item_counts: Tensor, num_train_users: int
) -> dict[str, float]:
    """Diversity and popularity of the top-k lists (U, K), -1 marking empty slots.

    coverage_k: share of the catalog (items 1..N) recommended to at least one user.
    novelty_k: mean self-information -log2(p(i)) of recommended items, p(i) = (train count + 1) / (users + 1).
    arp_k: average recommendation popularity, the mean training count of recommended items.
    """
    num_items = item_counts.shape[0] - 1
    counts = item_counts.double()
    info = -torch.log2((counts + 1.0) / (num_train_users + 1.0))
    out: dict[str, float] = {}
    for k in ks:
        top = lists[:, :k]
        valid = top > 0
        picked = top[valid]
        recommended = int(torch.count_nonzero(torch.bincount(picked, minlength=num_items + 1)))
        out[f"coverage_{k}"] = float(recommended / num_items) if num_items else 0.0
        out[f"novelty_{k}"] = float(info.index_select(0, picked).mean()) if picked.numel() else math.nan
        out[f"arp_{k}"] = float(counts.index_select(0, picked).mean()) if picked.numel() else math.nan
    return out
