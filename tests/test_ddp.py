"""DDP correctness: evaluation gathers every rank's users before computing metrics (each user once),
and training under DDP shards the data with Lightning's DistributedSampler."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import RandomSampler

from llmrec.data.batch import SeqBatch
from llmrec.data.datamodule import LengthGroupedSampler, SequenceDataModule
from llmrec.evaluation.evaluator import RankingEvaluator
from tests.test_app import llmrec


def _evaluate(evaluator: RankingEvaluator, users: list[int], targets: list[int]) -> None:
    scores = torch.arange(6, dtype=torch.float).repeat(len(users), 1)  # item 5 best, item 1 worst
    items = torch.tensor([[0, t] for t in targets])
    evaluator.update(scores, SeqBatch(items=items, users=torch.tensor(users)))


def test_gathered_shards_with_padding_repeats_give_single_process_metrics() -> None:
    counts = torch.ones(6)
    single = RankingEvaluator([1, 5], counts, 4)
    _evaluate(single, [0, 1, 2, 3, 4], [5, 4, 1, 2, 3])
    rank0, rank1 = RankingEvaluator([1, 5], counts, 4), RankingEvaluator([1, 5], counts, 4)
    _evaluate(rank0, [0, 2, 4], [5, 1, 3])  # DistributedSampler: rank 0 takes 0, 2, 4
    _evaluate(rank1, [1, 3, 0], [4, 2, 5])  # rank 1 takes 1, 3 and pads with user 0 again
    merged = RankingEvaluator([1, 5], counts, 4)
    merged.load_states([rank0.local_state(), rank1.local_state()])
    assert merged.compute() == pytest.approx(single.compute())
    assert merged.per_user()[0].tolist() == [0, 1, 2, 3, 4]
    assert rank0.compute() != pytest.approx(single.compute())  # a shard alone is not the answer


def test_empty_shard_state_is_harmless() -> None:
    counts = torch.ones(6)
    full, empty = RankingEvaluator([5], counts, 4), RankingEvaluator([5], counts, 4)
    _evaluate(full, [0, 1], [5, 4])
    merged = RankingEvaluator([5], counts, 4)
    merged.load_states([full.local_state(), empty.local_state()])
    assert merged.compute() == pytest.approx(full.compute())


def test_training_sampler_is_plain_under_ddp(make_config) -> None:  # type: ignore[no-untyped-def]
    from llmrec.data.cache import load_sequence_data
    from llmrec.data.split import LeaveOneOut
    from llmrec.run.instantiate import build

    cfg = make_config("debug=tiny")
    data, _ = load_sequence_data(build(cfg.dataset.source), int(cfg.dataset.k_core), None)
    module = SequenceDataModule(LeaveOneOut(data), max_len=10, batch_size=16)
    assert isinstance(module.train_dataloader().sampler, LengthGroupedSampler)
    module.trainer = SimpleNamespace(world_size=2)  # type: ignore[assignment]
    assert type(module.train_dataloader().sampler) is RandomSampler  # Lightning swaps in DistributedSampler


def _ddp_args(devices: int) -> list[str]:
    extra = ["trainer=ddp", "trainer.accelerator=cpu", f"trainer.devices={devices}"] if devices > 1 else []
    return ["model=popularity", "debug=tiny", *extra]


@pytest.mark.slow  # ~40 s: two gloo processes on 2 cores
def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path: Path) -> None:
    metrics = {}
    for devices in (1, 2):
        out = tmp_path / f"d{devices}"
        proc = llmrec(*_ddp_args(devices), f"hydra.run.dir={out}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.count("results: ") == 1, proc.stdout  # rank zero prints; the other rank does not
        assert [p.name for p in out.glob("results*.json")] == ["results.json"]
        results = json.loads((out / "results.json").read_text())
        assert sorted(results["per_user"]["test"]["user"]) == list(range(results["data"]["users"]))
        metrics[devices] = results["metrics"]
    for split in ("val", "test"):
        assert metrics[2][split] == pytest.approx(metrics[1][split], rel=1e-6)


@pytest.mark.slow  # ~40 s: SASRec trains under DDP (data sharded), then evaluates every user once
def test_sasrec_trains_under_ddp(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    args = ["model=sasrec", "debug=tiny", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
    proc = llmrec(*args, "trainer.max_epochs=1", f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert len(results["per_user"]["test"]["user"]) == results["data"]["users"]
