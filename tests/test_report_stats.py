"""The comparison report on a fabricated sweep folder with known numbers: tables, the seed-level comparison
against a baseline as the report computes it, and the per-user metrics."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec.errors import ConfigError, LlmrecError
from llmrec.evaluation.metrics import rank_metrics
from llmrec.report.runs import collect, unfinished
from llmrec.report.stats import per_user_metric
from llmrec.report.summary import Comparison, write_report
from llmrec.report.summary import main as report_main
from llmrec.report.tables import format_run_table

RANKS = {  # (model, seed) -> per-user 0-based test ranks of users 0..5
    ("base", 0): [0, 1, 2, 20, 5, 30],
    ("base", 1): [1, 1, 4, 12, 5, 3],
    ("base", 2): [2, 0, 3, 15, 8, 11],
    ("good", 0): [0, 0, 0, 3, 1, 9],
    ("good", 1): [0, 2, 1, 2, 0, 0],
    ("good", 2): [1, 0, 0, 4, 2, 1],
}
NDCG = {
    ("base", 0): 0.2,
    ("base", 1): 0.4,
    ("base", 2): 0.3,
    ("good", 0): 0.5,
    ("good", 1): 0.7,
    ("good", 2): 0.6,
}


def fake_run(folder: Path, model: str, seed: int, users: list[int] | None = None) -> None:
    ranks = RANKS[(model, seed)]
    users = users or list(range(len(ranks)))
    order = np.argsort(users)  # results.json lists users sorted; the test shuffles to check pairing
    result = {
        "status": "ok", "model": model, "dataset": "tiny", "seed": seed,
        "metrics": {"val": {"ndcg_10": NDCG[(model, seed)]}, "test": {"ndcg_10": NDCG[(model, seed)]}},
        "per_user": {"test": {"user": [users[i] for i in order], "rank": [ranks[i] for i in order]}},
        "timings": {"fit_seconds": 10.0 * (seed + 1), "test_seconds": 0.5, "test_users_per_second": 12.0},
        "parameters": {"total": 1000, "trainable": 800 if model == "good" else 0},
    }  # fmt: skip
    if model == "good":  # the compute spent; "base" stands for results.json written before it was recorded
        spent = {"epochs": 10 + seed, "examples": 2_000_000, "loss_targets": 20_000 if seed else None}
        result["budget"] = {"kind": "convergence", "spent": spent}
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(result))


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    for i, (model, seed) in enumerate(RANKS):
        fake_run(tmp_path / "sweep" / f"{i}_{model}_s{seed}", model, seed)
    (tmp_path / "sweep" / "9_bad").mkdir()
    (tmp_path / "sweep" / "9_bad" / "failed.json").write_text(
        json.dumps({"status": "failed", "error": "boom"})
    )
    return tmp_path / "sweep"


def ndcg10(ranks: list[int]) -> np.ndarray:
    return np.array([1 / math.log2(r + 2) if r < 10 else 0.0 for r in ranks])


def test_table_means_stds_bold_and_csv(sweep: Path) -> None:
    markdown = write_report(sweep, metrics=["ndcg_10"])
    assert "| model | dataset | protocol | samples | seeds | test/ndcg_10 | fit s |" in markdown
    good = next(line for line in markdown.splitlines() if line.startswith("| good"))
    assert good.startswith("| good | tiny | loo | tiled | 3 |")  # older results.json: loo, tiled windows
    assert "**0.6000 ± 0.1000**" in good  # mean(0.5, 0.7, 0.6), sample std
    base = next(line for line in markdown.splitlines() if line.startswith("| base"))
    assert "0.3000 ± 0.1000" in base and "**" not in base
    assert "boom" in markdown and "†" not in markdown and "Unfinished" not in markdown
    rows = list(csv.DictReader((sweep / "report.csv").open()))
    assert {r["model"]: float(r["ndcg_10"]) for r in rows} == pytest.approx({"base": 0.3, "good": 0.6})
    eff = {r["model"]: r for r in csv.DictReader((sweep / "report_efficiency.csv").open())}
    assert eff["good"]["trainable_params"] == "800" and float(eff["good"]["fit_seconds"]) == 20.0
    assert eff["good"]["protocol"] == "loo" and eff["good"]["samples"] == "tiled"
    assert float(eff["good"]["epochs"]) == 11.0 and float(eff["good"]["examples"]) == 2e6
    assert eff["good"]["loss_targets"] == "" and eff["base"]["epochs"] == ""  # not every seed recorded it
    good_efficiency = [line for line in markdown.splitlines() if line.startswith("| good")][-1]
    assert "| 800 | 1,000 | 11 | 2M | ? | 20.0 |" in good_efficiency
    assert (sweep / "report_speed.png").stat().st_size > 0


def test_a_one_seed_row_shows_no_spread(tmp_path: Path) -> None:
    fake_run(tmp_path / "sweep" / "base_s0", "base", 0)
    fake_run(tmp_path / "sweep" / "good_s0", "good", 0)
    fake_run(tmp_path / "sweep" / "good_s1", "good", 1)
    markdown = write_report(tmp_path / "sweep", metrics=["ndcg_10"])
    assert "| base | tiny | loo | tiled | 1 | 0.2000 | " in markdown  # a std of one seed is not 0
    assert "| good | tiny | loo | tiled | 2 | **0.6000 ± 0.1414** | " in markdown


def test_significance_aggregates_seeds_then_pairs_users(sweep: Path) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    write_report(sweep, metrics=["ndcg_10"], comparison=Comparison("base"))
    (row,) = list(csv.DictReader((sweep / "report_significance.csv").open()))
    good = np.stack([ndcg10(RANKS[("good", s)]) for s in (0, 1, 2)])  # (seeds, users)
    base = np.stack([ndcg10(RANKS[("base", s)]) for s in (0, 1, 2)])
    assert int(row["users"]) == 6 and int(row["seeds"]) == 3 and int(row["baseline_seeds"]) == 3
    assert float(row["mean"]) == pytest.approx(good.mean(1).mean())  # seed = one run's mean
    assert float(row["std"]) == pytest.approx(good.mean(1).std(ddof=1))
    assert float(row["diff"]) == pytest.approx(good.mean() - base.mean())
    assert float(row["rel_diff"]) == pytest.approx((good.mean() - base.mean()) / base.mean())
    a, b = good.mean(0), base.mean(0)  # per user, averaged over each model's seeds
    assert float(row["user_t_p"]) == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue)
    assert float(row["wilcoxon_p"]) == pytest.approx(scipy_stats.wilcoxon(a, b).pvalue)
    welch = scipy_stats.ttest_ind(good.mean(1), base.mean(1), equal_var=False).pvalue
    assert float(row["welch_p"]) == pytest.approx(welch)
    assert float(row["p_adj"]) == pytest.approx(float(row["p"]))  # one comparison: Holm changes nothing
    assert float(row["ci_low"]) <= float(row["diff"]) <= float(row["ci_high"])
    assert float(row["t_ci_low"]) <= float(row["diff"]) <= float(row["t_ci_high"])
    assert row["verdict"] == ("better" if float(row["p"]) < 0.05 else "not significant")
    assert (row["model"], row["baseline"], row["protocol"], row["samples"]) == (
        "good",
        "base",
        "loo",
        "tiled",
    )
    assert "against base" in (sweep / "report.md").read_text()


def test_too_few_seeds_is_one_line_naming_the_model_and_flag(
    sweep: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sweep / "5_good_s2" / "results.json").unlink()
    assert report_main([str(sweep), "--baseline", "base"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "good on tiny has 2 seed(s) [0, 1]" in err and "--min-seeds" in err
    assert not (sweep / "report_significance.csv").exists()
    assert report_main([str(sweep), "--baseline", "base", "--min-seeds", "2"]) == 0
    assert (sweep / "report_significance.csv").exists()
    assert report_main([str(sweep), "--baseline", "base", "--min-seeds", "1"]) == 2
    assert "--min-seeds must be at least 2" in capsys.readouterr().err


def test_users_are_paired_by_index_not_by_position(tmp_path: Path) -> None:
    for seed in (0, 1, 2):
        fake_run(tmp_path / f"a{seed}", "base", seed)
        fake_run(tmp_path / f"b{seed}", "good", seed, users=[5, 4, 3, 2, 1, 0])  # ranks of reversed users
    write_report(tmp_path, metrics=["ndcg_10"], comparison=Comparison("base", min_seeds=3))
    (row,) = list(csv.DictReader((tmp_path / "report_significance.csv").open()))
    good = np.stack([ndcg10(RANKS[("good", s)])[::-1] for s in (0, 1, 2)])
    base = np.stack([ndcg10(RANKS[("base", s)]) for s in (0, 1, 2)])
    scipy_stats = pytest.importorskip("scipy.stats")
    assert float(row["user_t_p"]) == pytest.approx(scipy_stats.ttest_rel(good.mean(0), base.mean(0)).pvalue)


def test_a_run_inside_another_runs_folder_is_not_counted(sweep: Path) -> None:
    fake_run(sweep / "0_base_s0" / "stage1_sasrec", "base", 1)  # as E4SRec keeps its stage-1 SASRec
    fake_run(sweep / "9_bad" / "stage1_sasrec", "good", 1)  # a stage 1 that finished before its run failed
    runs, failed = collect(sweep)
    assert sorted(Path(r["path"]).name for r in runs) == [
        "0_base_s0",
        "1_base_s1",
        "2_base_s2",
        "3_good_s0",
        "4_good_s1",
        "5_good_s2",
    ]
    assert [Path(f["path"]).name for f in failed] == ["9_bad"]
    assert [Path(r["path"]).name for r in collect(sweep / "0_base_s0" / "stage1_sasrec")[0]] == [
        "stage1_sasrec"
    ]


def test_unfinished_runs_are_listed_and_kept_out_of_the_tables(sweep: Path) -> None:
    (sweep / "7_good_s3" / ".hydra").mkdir(parents=True)  # started, no results.json yet
    (sweep / "7_good_s3" / "checkpoints").mkdir()
    (sweep / "0_base_s0" / "inner" / ".hydra").mkdir(parents=True)  # inside a finished run: part of it
    (sweep / "9_bad" / ".hydra").mkdir()  # failed, listed as failed only
    assert unfinished(sweep) == [sweep / "7_good_s3"]
    markdown = write_report(sweep, metrics=["ndcg_10"])
    unfinished_part = markdown.split("Unfinished runs")[1]
    assert f"- {sweep / '7_good_s3'}\n" in unfinished_part and "9_bad" not in unfinished_part
    good = next(line for line in markdown.splitlines() if line.startswith("| good"))
    assert good.startswith("| good | tiny | loo | tiled | 3 |")  # the three finished seeds only


def test_a_folder_of_unfinished_runs_only_says_so(tmp_path: Path) -> None:
    (tmp_path / "sweep" / "0_good_s0" / ".hydra").mkdir(parents=True)
    with pytest.raises(LlmrecError, match=r"no results.json below .*1 run\(s\) there unfinished"):
        collect(tmp_path / "sweep")


def test_out_puts_a_second_report_beside_the_first(sweep: Path) -> None:
    write_report(sweep, metrics=["ndcg_10"], comparison=Comparison("base"))
    first = (sweep / "report_significance.csv").read_text()
    assert report_main([str(sweep), "--baseline", "good", "--out", str(sweep / "vs_good")]) == 0
    assert (sweep / "report_significance.csv").read_text() == first  # the first report is untouched
    (row,) = list(csv.DictReader((sweep / "vs_good" / "report_significance.csv").open()))
    assert (row["model"], row["baseline"], row["verdict"]) == ("base", "good", "worse")
    assert {p.name for p in (sweep / "vs_good").iterdir()} >= {"report.md", "report.csv", "report.png"}


def test_a_refused_report_makes_no_out_folder(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = sweep / "vs_base"
    assert report_main([str(sweep), "--baseline", "base", "--min-seeds", "4", "--out", str(out)]) == 2
    assert "--min-seeds" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_baseline_is_one_error(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main([str(sweep), "--baseline", "nope"]) == 2
    assert "baseline 'nope' has no finished run" in capsys.readouterr().err
    assert report_main([str(sweep), "--baseline", "base"]) == 0


def test_per_user_metric() -> None:
    assert per_user_metric(np.array([0, 1, 10]), "hr_10").tolist() == [1.0, 1.0, 0.0]
    assert per_user_metric(np.array([0, 2]), "mrr_5").tolist() == pytest.approx([1.0, 1 / 3])
    with pytest.raises(ConfigError, match="hr_K, ndcg_K or mrr_K"):
        per_user_metric(np.array([0]), "coverage_10")


@pytest.mark.parametrize("k", [1, 5, 10, 20, 1000])
def test_per_user_metric_is_bit_identical_to_the_reference(k: int) -> None:
    ranks = np.concatenate([np.arange(3000), [0, 7, 7, 2999]])  # every rank below 3000, some repeated
    reference = rank_metrics(torch.as_tensor(ranks), [k])
    for name in ("hr", "ndcg", "mrr"):
        values = per_user_metric(ranks, f"{name}_{k}")
        assert values.dtype == np.float64
        assert np.array_equal(values, reference[f"{name}_{k}"].numpy())


def test_the_report_imports_neither_torch_nor_the_evaluation_package() -> None:
    code = (
        "import sys, llmrec.report.summary, llmrec.report.__main__; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('llmrec.evaluation')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_run_table_orders_metrics_by_name_then_cutoff() -> None:
    result = {
        "model": "sasrec", "dataset": "tiny", "seed": 3,
        "metrics": {"val": {"hr_10": 0.5, "hr_5": 0.25}, "test": {"hr_10": 0.4, "hr_5": 0.2, "ndcg_5": 0.1}},
    }  # fmt: skip
    assert format_run_table(result).splitlines() == [
        "sasrec on tiny (seed 3)",
        "metric               val      test",
        "hr_5              0.2500    0.2000",
        "hr_10             0.5000    0.4000",
        "ndcg_5                 -    0.1000",
    ]


def test_run_table_of_a_validation_only_evaluation_shows_no_test_figure() -> None:
    result = {"model": "sasrec", "dataset": "tiny", "seed": 0, "metrics": {"val": {"hr_5": 0.25}}}
    assert format_run_table(result).splitlines()[-1] == "hr_5              0.2500         -"
