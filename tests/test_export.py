"""eval.export_topk: the evaluator keeps top-K lists only when asked, they are the lists the metrics rank,
and the file they go to (Parquet or CSV) reproduces the run's HR@K from the test targets."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.evaluation import export
from llmrec.evaluation.evaluator import RankingEvaluator
from llmrec.evaluation.metrics import mask_scores
from tests.bad_input_helpers import expect_error, run_tiny

NUM_ITEMS = 9


def _batch(users: list[int]) -> tuple[torch.Tensor, SeqBatch]:
    generator = torch.Generator().manual_seed(len(users))
    scores = torch.randn(len(users), NUM_ITEMS + 1, generator=generator)
    items = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7], [0, 0, 8, 9]])[: len(users)]
    seen = torch.tensor([[1, 2, 0], [4, 5, 6], [8, 0, 0]])[: len(users)]
    return scores, SeqBatch(items=items, seen=seen, users=torch.tensor(users))


@pytest.mark.parametrize("disposable", [False, True])
def test_evaluator_keeps_the_masked_top_k_of_each_user(disposable: bool) -> None:
    evaluator = RankingEvaluator([2], torch.ones(NUM_ITEMS + 1), 3, export_k=4)
    scores, batch = _batch([2, 0, 1])
    reference = mask_scores(scores, batch.items[:, -1], batch.seen)
    evaluator.update(scores.clone(), batch, disposable=disposable)  # a disposable matrix gets overwritten
    users, items, values = evaluator.exported()
    assert users.tolist() == [0, 1, 2]
    order = torch.tensor([1, 2, 0])  # rows of the batch in user order
    expected_values, expected_items = torch.topk(reference[order], 4, dim=1)
    assert torch.equal(items, expected_items) and torch.equal(values, expected_values)
    assert not bool(torch.isin(items[1], batch.seen[2][batch.seen[2] > 0]).any())  # history masked
    assert bool((items != 0).all())  # padding never listed


def test_evaluator_keeps_nothing_without_export() -> None:
    evaluator = RankingEvaluator([2], torch.ones(NUM_ITEMS + 1), 3)
    scores, batch = _batch([0, 1])
    evaluator.update(scores, batch)
    assert [len(kept) for kept in evaluator._batches] == [3] and len(evaluator.local_state()) == 3
    with pytest.raises(RuntimeError, match="export_k"):
        evaluator.exported()


def test_ddp_states_carry_the_export() -> None:
    parts = []
    for users in ([0, 1], [2]):
        evaluator = RankingEvaluator([2], torch.ones(NUM_ITEMS + 1), 3, export_k=3)
        scores, batch = _batch(users)
        evaluator.update(scores, batch)
        parts.append(evaluator.local_state())
    merged = RankingEvaluator([2], torch.ones(NUM_ITEMS + 1), 3, export_k=3)
    merged.load_states(parts)
    users, items, _ = merged.exported()
    assert users.tolist() == [0, 1, 2] and items.shape == (3, 3)


def test_rows_shorter_than_k_end_early_and_ids_are_original() -> None:
    data = type("Data", (), {"user_ids": ["ann", "bob"], "item_ids": ["i1", "i2", "i3"]})()
    items = torch.tensor([[3, 1, -1], [2, -1, -1]])
    values = torch.tensor([[0.9, 0.5, float("-inf")], [0.7, float("-inf"), float("-inf")]])
    columns = export.topk_columns(torch.tensor([0, 1]), items, values, data)  # type: ignore[arg-type]
    assert columns["user"].tolist() == ["ann", "ann", "bob"]
    assert columns["item"].tolist() == ["i3", "i1", "i2"] and columns["item_index"].tolist() == [3, 1, 2]
    assert columns["rank"].tolist() == [1, 2, 1]


def _hr_from_rows(rows: list[dict[str, object]], targets: dict[int, int], k: int) -> float:
    """HR@k computed by a user from the exported file and the test targets."""
    hits = set()
    for row in rows:
        user = int(row["user_index"])  # type: ignore[call-overload]
        if int(row["rank"]) <= k and int(row["item_index"]) == targets[user]:  # type: ignore[call-overload]
            hits.add(user)
    return len(hits) / len(targets)


def _test_targets(tmp_path: Path) -> dict[int, int]:
    from llmrec.run.api import load_run

    split = load_run(tmp_path / "out").split
    return {u: int(split.data.sequence(u)[-1]) for u in range(split.data.num_users)}


def test_csv_export_reproduces_hit_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SASRec's float scores do not tie: HR@10 from the file equals the run's."""
    monkeypatch.setattr(export, "_parquet_bytes", lambda columns: None)  # as without pyarrow
    results = run_tiny(tmp_path, "model=sasrec", "trainer.max_epochs=1", "logger=none", "eval.export_topk=10")
    expected = {"file": "topk_test.csv", "format": "csv", "k": 10, "rows": 10 * results["data"]["users"]}
    assert results["topk_export"] == expected
    with open(tmp_path / "out" / "topk_test.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(export.COLUMNS)
    hr = _hr_from_rows(rows, _test_targets(tmp_path), 10)
    assert math.isclose(hr, results["metrics"]["test"]["hr_10"], abs_tol=1e-6)


def test_parquet_export_when_pyarrow_is_there(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    results = run_tiny(tmp_path, "model=popularity", "eval.export_topk=5")
    assert results["topk_export"]["format"] == "parquet" and not (tmp_path / "out" / "topk_test.csv").exists()
    rows = pq.read_table(tmp_path / "out" / "topk_test.parquet").to_pylist()
    assert rows[0]["rank"] == 1 and isinstance(rows[0]["item"], str)
    # popularity counts tie: a target listed among tied items still ranks behind all of them
    assert _hr_from_rows(rows, _test_targets(tmp_path), 5) >= results["metrics"]["test"]["hr_5"] - 1e-6


def test_no_export_by_default(tmp_path: Path) -> None:
    results = run_tiny(tmp_path, "model=popularity")
    assert "topk_export" not in results and not list((tmp_path / "out").glob("topk_test.*"))


@pytest.mark.bad_input
@pytest.mark.parametrize("value", ["0", "-3", "abc", "2.5"])
def test_export_topk_must_be_positive(tmp_path: Path, value: str) -> None:
    override = f"eval.export_topk={value}"
    expect_error(lambda: run_tiny(tmp_path, "model=popularity", override), "eval.export_topk")


def test_check_export_k() -> None:
    assert export.check_export_k(None) is None and export.check_export_k(3) == 3
    with pytest.raises(ConfigError):
        export.check_export_k(True)


FAST_PROMPT = ["model.num_beams=2", "model.num_return_sequences=2", "model.max_new_tokens=6"]


def test_llmseqprompt_exports_its_generated_list(tmp_path: Path) -> None:
    """A model that returns a top-k list (dense scores, everything else tied low) exports that list."""
    from llmrec.models.llmseqprompt import LOW_SCORE

    overrides = ["model=llmseqprompt", "encoder=hashing", "logger=none", "model.top_k=3", *FAST_PROMPT]
    overrides += ["trainer.max_epochs=1", "+trainer.limit_train_batches=1", "eval.export_topk=5"]
    monkey = pytest.MonkeyPatch()
    monkey.setattr(export, "_parquet_bytes", lambda columns: None)
    try:
        results = run_tiny(tmp_path, *overrides)
    finally:
        monkey.undo()
    with open(tmp_path / "out" / "topk_test.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 * results["data"]["users"]
    generated = [r for r in rows if float(r["score"]) > LOW_SCORE]
    by_user: dict[str, list[int]] = {}
    for row in generated:
        by_user.setdefault(row["user"], []).append(int(row["rank"]))
    # Each list leads with the generated top-3 outside the input row (and a repeated target the list holds;
    # fewer where the evaluation masks items older than the row).
    assert by_user and all(sorted(ranks) == list(range(1, len(ranks) + 1)) for ranks in by_user.values())
    assert all(len(ranks) <= 4 for ranks in by_user.values())
