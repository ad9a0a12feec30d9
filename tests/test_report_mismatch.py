"""The report refuses to average or compare runs that are not comparable (one error naming the mismatch)
and flags rows with runs that stopped before converging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmrec.errors import LlmrecError
from llmrec.report.summary import Comparison, write_report
from llmrec.report.summary import main as report_main

RANKS = [[0, 3, 12, 1], [1, 2, 9, 0], [0, 5, 20, 2]]  # per seed, users 0..3


def run(folder: Path, model: str, seed: int, **extra: Any) -> None:
    result = {
        "model": model, "dataset": "tiny", "seed": seed,
        "metrics": {"val": {}, "test": {"ndcg_10": 0.1 * (seed + 1)}},
        "per_user": {"test": {"user": [0, 1, 2, 3], "rank": RANKS[seed]}},
        "timings": {"fit_seconds": 1.0, "test_seconds": 1.0, "test_users_per_second": 4.0},
        "parameters": {"total": 10, "trainable": 10},
    } | extra  # fmt: skip
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(result))


def study(root: Path, model_extra: dict[str, Any], seeds: int = 3) -> Path:
    for seed in range(seeds):
        run(root / f"base_{seed}", "base", seed, data={"fingerprint": "tiny-aaaa"})
        run(root / f"other_{seed}", "other", seed, **model_extra)
    return root


def compare(root: Path) -> str:
    return write_report(root, metrics=["ndcg_10"], comparison=Comparison("base"))


def test_another_protocol_than_the_baseline_is_refused(tmp_path: Path) -> None:
    study(tmp_path, {"protocol": {"name": "sampled", "negatives": 99}})
    with pytest.raises(LlmrecError, match=r"cannot compare other on tiny \(protocol sampled") as error:
        compare(tmp_path)
    assert "baseline base, whose runs there use protocol loo" in str(error.value)
    assert "other_0" in str(error.value) and "base_0" in str(error.value)


def test_another_sample_schema_than_the_baseline_is_refused(tmp_path: Path) -> None:
    study(tmp_path, {"config": {"datamodule": {"train_windows": "prefixes"}}})  # an older results.json
    with pytest.raises(LlmrecError, match=r"samples prefixes.*protocol loo, samples tiled"):
        compare(tmp_path)


def test_other_protocol_parameters_in_one_comparison_are_refused(tmp_path: Path) -> None:
    run(tmp_path / "a", "base", 0, protocol={"name": "sampled", "negatives": 99})
    run(tmp_path / "b", "base", 1, protocol={"name": "sampled", "negatives": 49})
    with pytest.raises(LlmrecError, match=r"different protocol\.negatives") as error:
        write_report(tmp_path, metrics=["ndcg_10"])
    assert "a: 99" in str(error.value) and "b: 49" in str(error.value)


def test_other_data_under_one_dataset_name_is_refused(tmp_path: Path) -> None:
    study(tmp_path, {"data": {"fingerprint": "tiny-bbbb"}})
    with pytest.raises(
        LlmrecError, match=r"comparison of other with base mixes .* data\.fingerprint"
    ) as error:
        compare(tmp_path)
    assert "tiny-aaaa" in str(error.value) and "tiny-bbbb" in str(error.value)


def test_other_test_users_are_refused(tmp_path: Path) -> None:
    study(tmp_path, {"per_user": {"test": {"user": [0, 1, 2, 4], "rank": [0, 1, 2, 3]}}})
    with pytest.raises(LlmrecError, match="needs the same test users"):
        compare(tmp_path)


def test_the_cli_prints_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study(tmp_path, {"protocol": {"name": "user_holdout"}})
    assert report_main([str(tmp_path), "--baseline", "base"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot compare other") and err.count("\n") == 1


def test_unconverged_runs_are_flagged_under_the_table(tmp_path: Path) -> None:
    study(tmp_path, {})
    for seed, converged in enumerate([False, None, True]):
        path = tmp_path / f"other_{seed}" / "results.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"converged": converged}))
    markdown = compare(tmp_path)
    assert "| other † | tiny | loo | tiled | 3 |" in markdown
    assert "† other on tiny: 1 of 3 seed(s) stopped before converging" in markdown
    assert "| base | tiny |" in markdown  # no converged key: unknown, not flagged
    assert "| other † | tiny | loo | tiled | 10 | 10 |" in markdown  # the efficiency row too


def test_a_fit_time_that_misses_earlier_attempts_is_a_lower_bound(tmp_path: Path) -> None:
    study(tmp_path, {})
    path = tmp_path / "other_2" / "results.json"
    result = json.loads(path.read_text())
    result["timings"] |= {"fit_seconds": 4.0, "fit_attempts": None}  # resumed from a clockless checkpoint
    path.write_text(json.dumps(result))
    markdown = compare(tmp_path)
    assert "| ≥2.0 |" in markdown and "| 10 | 10 | ? | ? | ? | ≥2.0 |" in markdown  # both tables
    assert "≥ other on tiny: 1 seed(s) resumed from a checkpoint that kept no clock" in markdown
    assert "| base | tiny | loo | tiled | 3 |" in markdown and "| 1.0 |" in markdown  # no key: not flagged


def test_a_sweep_with_too_few_seeds_still_gets_its_tables(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from omegaconf import OmegaConf

    from llmrec.run.hydra_callbacks import ReportOnMultirunEnd

    study(tmp_path, {}, seeds=2)
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    ReportOnMultirunEnd(baseline="base").on_multirun_end(config)
    assert "no comparison" in caplog.text and "has 2 seed(s) [0, 1]" in caplog.text
    assert "| other | tiny |" in (tmp_path / "report.md").read_text()
    assert not (tmp_path / "report_significance.csv").exists()
    ReportOnMultirunEnd(baseline="base", min_seeds=2).on_multirun_end(config)
    assert (tmp_path / "report_significance.csv").exists()
