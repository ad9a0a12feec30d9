"""Metric functions against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from llmrec.evaluation.metrics import (
    NonFiniteScoresError,
    beyond_accuracy,
    mask_scores,
    rank_metrics,
    target_ranks,
    top_k,
)

NEG = float("-inf")


def ranks_of(scores: list[list[float]], targets: list[int], seen: list[list[int]] | None = None) -> list[int]:
    s = torch.tensor(scores)
    t = torch.tensor(targets)
    masked = mask_scores(s, t, torch.tensor(seen) if seen is not None else None)
    return target_ranks(masked, t).tolist()


def test_rank_zero_when_target_scores_highest() -> None:
    assert ranks_of([[9.0, 1.0, 5.0, 2.0]], [2]) == [0]


def test_padding_column_is_never_ranked() -> None:
    # Column 0 scores highest but is padding: the target (item 1) is still first.
    assert ranks_of([[100.0, 3.0, 2.0, 1.0]], [1]) == [0]


def test_ties_are_pessimistic() -> None:
    # Items 1..4 all score 1.0: the target counts the three others as ahead of it.
    assert ranks_of([[0.0, 1.0, 1.0, 1.0, 1.0]], [3]) == [3]
    # Strictly higher plus ties: item 1 higher, item 3 tied with target 2.
    assert ranks_of([[0.0, 5.0, 2.0, 2.0, 1.0]], [2]) == [2]


def test_constant_scorer_gets_no_credit() -> None:
    scores = [[0.0] * 6 for _ in range(3)]
    ranks = ranks_of(scores, [1, 3, 5])
    assert ranks == [4, 4, 4]
    assert rank_metrics(torch.tensor(ranks), [1])["hr_1"].sum() == 0


def test_history_masking_removes_seen_items_but_never_the_target() -> None:
    scores = [[0.0, 9.0, 8.0, 7.0, 1.0]]
    assert ranks_of(scores, [4]) == [3]
    assert ranks_of(scores, [4], seen=[[1, 2, 0]]) == [1]  # 0 in seen is padding
    # The target itself in the history (a repeat) stays rankable.
    assert ranks_of(scores, [3], seen=[[1, 3]]) == [1]


def test_masked_items_do_not_tie_with_a_minus_inf_target() -> None:
    # Target scored -inf by the model: masked (-inf) items are excluded, unmasked ones count as ties.
    assert ranks_of([[0.0, 5.0, NEG, 1.0]], [2], seen=[[1]]) == [1]


def test_nan_scores_are_refused() -> None:
    with pytest.raises(NonFiniteScoresError, match="NaN"):
        ranks_of([[0.0, float("nan"), 1.0]], [2])


def test_rank_metrics_values() -> None:
    m = rank_metrics(torch.tensor([0, 1, 4, 20]), [1, 5, 100])
    assert m["hr_1"].tolist() == [1, 0, 0, 0]
    assert m["hr_5"].tolist() == [1, 1, 1, 0]
    assert m["ndcg_5"].tolist() == pytest.approx([1.0, 1 / math.log2(3), 1 / math.log2(6), 0.0])
    assert m["mrr_5"].tolist() == pytest.approx([1.0, 0.5, 0.2, 0.0])
    # k larger than the catalog: every user is a hit.
    assert m["hr_100"].tolist() == [1, 1, 1, 1]
    assert m["ndcg_100"][3].item() == pytest.approx(1 / math.log2(22))


def test_top_k_marks_unrankable_slots() -> None:
    scores = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    masked = mask_scores(scores, torch.tensor([2]), torch.tensor([[1]]))
    assert top_k(masked, 3).tolist() == [[3, 2, -1]]
    assert top_k(masked, 10).shape == (1, 4)  # k beyond the catalog is clipped


def test_beyond_accuracy_by_hand() -> None:
    lists = torch.tensor([[1, 2], [1, 3]])
    counts = torch.tensor([0.0, 3.0, 1.0, 0.0])  # items 1..3; 3 training users
    out = beyond_accuracy(lists, [1, 2], counts, num_train_users=3)
    assert out["coverage_1"] == pytest.approx(1 / 3)
    assert out["coverage_2"] == pytest.approx(3 / 3)
    info = {1: -math.log2(4 / 4), 2: -math.log2(2 / 4), 3: -math.log2(1 / 4)}
    assert out["novelty_2"] == pytest.approx((info[1] * 2 + info[2] + info[3]) / 4)
    assert out["arp_1"] == pytest.approx(3.0)
    assert out["arp_2"] == pytest.approx((3 + 1 + 3 + 0) / 4)
