"""The GPU evaluation path (``RankingEvaluator(on_device=True)``: ``rank_on_device``, results kept on the
device until the pass ends, evaluation batches built on the device) gives bit for bit what the CPU path
gives, run here with device=cpu; on the ``meta`` device, which has no values to read, it shows that
neither ranking a batch nor building one ever reads a value back to the host."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from llmrec.data.batch import SeqBatch, trim_left_padding
from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.interactions import Interactions
from llmrec.data.preprocess import build_sequence_data
from llmrec.data.split import LeaveOneOut
from llmrec.evaluation.evaluator import RankingEvaluator
from llmrec.evaluation.metrics import NonFiniteScoresError
from llmrec.evaluation.ranking import rank_and_top_k, rank_on_device
from tests.test_eval_fast_path import random_case, reference


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("history", [40, 20, 0], ids=["wide history", "narrow", "none"])
@pytest.mark.parametrize("disposable", [False, True], ids=["kept", "disposable"])
def test_device_ranking_equals_the_cpu_path_with_many_ties(seed: int, history: int, disposable: bool) -> None:
    scores, targets, seen = random_case(seed)
    seen = seen[:, :history] if history else None
    cpu = rank_and_top_k(scores.clone(), targets, seen, 20, disposable=disposable)
    kept = scores.clone()
    device = rank_on_device(kept, targets, seen, 20, disposable=disposable)
    assert torch.equal(device[0], cpu[0]) and device[0].dtype == cpu[0].dtype
    assert torch.equal(device[1], cpu[1])
    if not disposable:
        assert torch.equal(kept, scores)


@pytest.mark.parametrize("special", [float("-inf"), float("inf"), 3e38], ids=["-inf", "+inf", "3e38"])
def test_non_finite_scores_give_the_reference_numbers(special: float) -> None:
    scores, targets, seen = random_case(7)
    scores[::3, 5:40] = special
    scores[1, targets[1]] = special
    expected = reference(scores, targets, seen, 10)
    got = rank_on_device(scores.clone(), targets, seen, 10, disposable=True)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_bfloat16_and_expanded_views() -> None:
    scores, targets, seen = random_case(3)
    low = (scores / 3).bfloat16()
    for given in (low, scores[:1].expand(len(targets), -1)):
        expected = reference(given, targets, seen, 5)
        got = rank_on_device(given, targets, seen, 5, disposable=True)
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_nan_rows_are_marked_and_the_pass_is_refused_at_its_end() -> None:
    scores, targets, seen = random_case(1)
    scores[0, seen[0, 1]] = float("nan")  # a history column: masked, still refused
    scores[5, 0] = float("nan")  # the padding column
    ranks, _ = rank_on_device(scores.clone(), targets, seen, 10)
    assert ranks[[0, 5]].tolist() == [-1, -1] and bool((ranks[1:5] >= 0).all())
    evaluator = RankingEvaluator([5], torch.ones(scores.shape[1]), 64, on_device=True)
    evaluator.update(scores, SeqBatch(items=targets[:, None], seen=seen, users=torch.arange(64)))
    with pytest.raises(NonFiniteScoresError, match="NaN"):
        evaluator.compute()


def _split(users: int = 40, items: int = 30) -> LeaveOneOut:
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 15, size=users)
    sequences = [[str(x) for x in rng.integers(1, items, size=int(n))] for n in lengths]
    raw = Interactions(users=[f"u{i}" for i in range(users)], sequences=sequences)
    return LeaveOneOut(build_sequence_data(raw, k_core=0))


def _tied_scores(batch: SeqBatch, num_items: int) -> torch.Tensor:
    """Few distinct values, so targets tie with many items; depends on the items, not the padding."""
    per_row = batch.items.sum(dim=1, keepdim=True).float()
    return (torch.arange(num_items + 1.0)[None, :] * per_row) % 5.0


@pytest.mark.parametrize("sampled", [False, True], ids=["full ranking", "sampled candidates"])
def test_a_whole_pass_on_the_device_path_equals_the_cpu_path(sampled: bool) -> None:
    split = _split()
    candidates = None
    if sampled:  # 5 fixed ids a user, the same for both paths
        candidates = np.stack([np.arange(1, 6) + (u % 3) * 7 for u in range(split.data.num_users)])
    counts = torch.from_numpy(split.train_item_counts())
    results = []
    for on_device in (False, True):
        module = SequenceDataModule(split, max_len=8, eval_batch_size=7, candidates=candidates)
        evaluator = RankingEvaluator([1, 5], counts, 40, export_k=4, on_device=on_device)
        for batch in module.test_dataloader():
            evaluator.update(_tied_scores(batch, split.num_items), batch, disposable=True)
        results.append((evaluator.per_user(), evaluator.exported(), evaluator.compute()))
    (cpu_users, cpu_export, cpu_metrics), (dev_users, dev_export, dev_metrics) = results
    assert all(torch.equal(a, b) for a, b in zip(cpu_users, dev_users, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(cpu_export, dev_export, strict=True))
    assert cpu_metrics == dev_metrics
    assert bool((cpu_users[1] > 0).any())  # ties and history masking put targets below the top


def test_batches_built_from_host_lengths_equal_the_trimmed_rows() -> None:
    module = SequenceDataModule(_split(), max_len=8, eval_batch_size=6, eval_by_length=True)
    data = module.test_set
    for batch in module.test_dataloader():
        rows = data.rows.index_select(0, batch.users)
        assert torch.equal(batch.items, trim_left_padding(rows))
        for b, user in enumerate(batch.users.tolist()):
            start, end = int(data.offsets[user]), int(data.offsets[user + 1])
            assert batch.seen[b, : end - start].tolist() == data.history[start:end].tolist()
            assert not bool(batch.seen[b, end - start :].any())


def test_nothing_is_read_back_from_the_device_while_a_pass_runs() -> None:
    """On the meta device any read of a value fails: batches built there, ranked and kept there."""
    split = _split()
    module = SequenceDataModule(split, max_len=8, eval_batch_size=7)
    module.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("meta")), world_size=1)
    evaluator = RankingEvaluator([5], torch.from_numpy(split.train_item_counts()), 40)
    for batch in module.test_dataloader():
        assert batch.items.device.type == "meta" and batch.seen is not None
        scores = torch.randn(len(batch.items), split.num_items + 1, device="meta")
        evaluator.update(scores, batch, disposable=True)
    assert len(evaluator._batches) == 6
    with pytest.raises(RuntimeError, match="meta"):  # the CPU path reads values to pick its path
        rank_and_top_k(scores, batch.items[:, -1], batch.seen, 5)


def test_a_trainer_on_the_cpu_or_loader_workers_keep_the_data_on_the_host() -> None:
    split = _split()
    cpu_trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cpu")), world_size=1)
    meta_trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("meta")), world_size=1)
    for trainer, kwargs in [
        (cpu_trainer, {}),
        (meta_trainer, {"num_workers": 1}),
        (meta_trainer, {"eval_on_device": False}),
    ]:
        module = SequenceDataModule(split, max_len=8, **kwargs)
        module.trainer = trainer
        assert module._eval_device() == torch.device("cpu")
