"""The fast ranking (``llmrec.evaluation.ranking.rank_and_top_k``, what ``RankingEvaluator`` runs) gives
exactly what the reference functions of ``llmrec.evaluation.metrics`` give: same pessimistic ranks, same
top-k lists, same refusals; evaluating in length order (``eval_by_length``) gives the same per-user
results."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.interactions import Interactions
from llmrec.data.preprocess import build_sequence_data
from llmrec.data.split import LeaveOneOut
from llmrec.evaluation.evaluator import RankingEvaluator
from llmrec.evaluation.metrics import NonFiniteScoresError, mask_scores, target_ranks, top_k
from llmrec.evaluation.ranking import Workspace, rank_and_top_k


def reference(scores: torch.Tensor, targets: torch.Tensor, seen: torch.Tensor | None, k: int):
    masked = mask_scores(scores, targets, seen)
    return target_ranks(masked, targets), top_k(masked, k)


def random_case(seed: int, rows: int = 64, items: int = 300, levels: int = 7):
    generator = torch.Generator().manual_seed(seed)
    # Few distinct values: most targets tie with many items, the case pessimistic ranks exist for.
    scores = torch.randint(0, levels, (rows, items + 1), generator=generator).float()
    targets = torch.randint(1, items + 1, (rows,), generator=generator)
    seen = torch.randint(0, items + 1, (rows, 40), generator=generator)  # 0 = padding, repeats allowed
    seen[:5, 0] = targets[:5]  # a repeat of the target in the history stays rankable
    return scores, targets, seen


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("history", [40, 20, 0], ids=["wide history: copy", "narrow: in place", "none"])
@pytest.mark.parametrize("disposable", [False, True], ids=["kept", "disposable"])
def test_fast_path_equals_reference_with_many_ties(seed: int, history: int, disposable: bool) -> None:
    scores, targets, seen = random_case(seed)
    seen = seen[:, :history] if history else None
    expected_ranks, expected_lists = reference(scores, targets, seen, 20)
    ranks, lists = rank_and_top_k(scores.clone(), targets, seen, 20, disposable=disposable)
    assert torch.equal(ranks, expected_ranks) and ranks.dtype == expected_ranks.dtype
    assert torch.equal(lists, expected_lists)


@pytest.mark.parametrize(
    "special", [float("-inf"), float("inf"), 3e38], ids=["model -inf", "model +inf", "sum overflows"]
)
@pytest.mark.parametrize("disposable", [False, True], ids=["kept", "disposable"])
def test_non_finite_scores_take_the_reference_path(special: float, disposable: bool) -> None:
    scores, targets, seen = random_case(7)
    scores[::3, 5:40] = special
    scores[1, targets[1]] = special
    expected = reference(scores, targets, seen, 10)
    got = rank_and_top_k(scores.clone(), targets, seen, 10, disposable=disposable)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_bfloat16_scores() -> None:
    scores, targets, seen = random_case(3)
    low = (scores / 3).bfloat16()
    expected = reference(low, targets, seen, 5)
    got = rank_and_top_k(low.clone(), targets, seen, 5)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


@pytest.mark.parametrize("disposable", [False, True], ids=["kept", "disposable"])
def test_k_beyond_rankable_items_gives_minus_one(disposable: bool) -> None:
    scores = torch.tensor([[0.0, 3.0, 2.0, 1.0]])
    ranks, lists = rank_and_top_k(scores, torch.tensor([3]), torch.tensor([[1]]), 5, disposable=disposable)
    assert ranks.tolist() == [1] and lists.tolist() == [[2, 3, -1, -1]]


def test_only_disposable_scores_are_overwritten() -> None:
    scores, targets, seen = random_case(5)
    kept, thrown = scores.clone(), scores.clone()
    rank_and_top_k(kept, targets, seen[:, :20], 10)
    rank_and_top_k(thrown, targets, seen[:, :20], 10, disposable=True)
    assert torch.equal(kept, scores)
    assert set(thrown.unique().tolist()) <= {0.0, 1.0}  # became the ">= target" indicator


@pytest.mark.parametrize("disposable", [False, True], ids=["kept", "disposable"])
def test_nan_is_refused_even_in_a_history_column(disposable: bool) -> None:
    scores, targets, seen = random_case(1)
    scores[0, seen[0, 1]] = float("nan")
    with pytest.raises(NonFiniteScoresError, match="NaN"):
        rank_and_top_k(scores, targets, seen, 10, disposable=disposable)


def test_eval_by_length_orders_batches_and_keeps_per_user_results() -> None:
    rng = np.random.default_rng(0)
    sequences = [list(rng.integers(1, 30, size=int(n))) for n in rng.integers(3, 15, size=40)]
    raw = Interactions(users=[f"u{i}" for i in range(40)], sequences=[[str(x) for x in s] for s in sequences])
    split = LeaveOneOut(build_sequence_data(raw, k_core=0))
    counts = torch.from_numpy(split.train_item_counts())
    results = []
    for by_length in (False, True):
        module = SequenceDataModule(split, max_len=8, eval_batch_size=6, eval_by_length=by_length)
        evaluator = RankingEvaluator([5], counts, 40)
        widths = []
        for batch in module.test_dataloader():
            widths.append(int((batch.items != 0).sum(dim=1).max()))
            # A scorer that reads only the items, never the padding width: item id times the row's sum.
            scores = (
                torch.arange(split.num_items + 1.0)[None, :] * batch.items.sum(dim=1, keepdim=True).float()
            )
            evaluator.update(scores % 7.0, batch)
        results.append((widths, evaluator.per_user(), evaluator.compute()))
    (_, plain, plain_metrics), (widths, grouped, grouped_metrics) = results
    assert widths == sorted(widths, reverse=True)
    assert all(torch.equal(a, b) for a, b in zip(plain, grouped, strict=True))
    assert plain_metrics == grouped_metrics


def test_scores_that_are_a_view_of_model_state_are_left_untouched() -> None:
    counts = torch.tensor([0.0, 5.0, 3.0, 3.0, 1.0])  # what Popularity returns, expanded per row
    scores = counts.expand(2, -1)
    ranks, lists = rank_and_top_k(scores, torch.tensor([2, 4]), torch.tensor([[1, 3], [2, 0]]), 3)
    assert ranks.tolist() == [0, 2] and lists.tolist() == [[2, 4, -1], [1, 3, 4]]
    assert counts.tolist() == [0.0, 5.0, 3.0, 3.0, 1.0]


@pytest.mark.parametrize("with_history", [True, False])
def test_dense_scores_are_ranked_in_place_and_restored_exactly(with_history: bool) -> None:
    scores, targets, seen = random_case(5)
    scores[:, 0] = 2.5  # a padding column the model filled in
    seen = seen[:, :20] if with_history else None  # narrow enough (20 * 8 < 301) for the in-place path
    before = scores.clone()
    expected = reference(before, targets, seen, 20)
    got = rank_and_top_k(scores, targets, seen, 20)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    assert torch.equal(scores, before)


@pytest.mark.parametrize("disposable", [False, True], ids=["kept", "disposable"])
def test_nan_in_the_padding_column_is_refused(disposable: bool) -> None:
    scores, targets, seen = random_case(2)
    scores[3, 0] = float("nan")
    with pytest.raises(NonFiniteScoresError, match="NaN"):
        rank_and_top_k(scores, targets, seen, 10, disposable=disposable)


def test_one_workspace_serves_batches_of_every_shape_and_both_paths() -> None:
    workspace = Workspace()
    for seed, rows, items in [(0, 64, 300), (1, 16, 500), (2, 40, 120)]:
        scores, targets, seen = random_case(seed, rows=rows, items=items)
        expected = reference(scores, targets, seen, 20)
        dense = rank_and_top_k(scores.clone(), targets, seen, 20, workspace)
        view = rank_and_top_k(scores[:1].expand(rows, -1), targets, seen, 20, workspace)
        expected_view = reference(scores[:1].expand(rows, -1), targets, seen, 20)
        assert torch.equal(dense[0], expected[0]) and torch.equal(dense[1], expected[1])
        assert torch.equal(view[0], expected_view[0]) and torch.equal(view[1], expected_view[1])
    workspace.release()
