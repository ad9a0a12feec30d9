"""Sweeps: launchers (basic, joblib, submitit_local), a failing job recorded while the others finish,
skip_done on a re-run, and the report (with a significance test) at the end of a multirun."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.test_app import llmrec

FAST = ["debug=tiny", "trainer.max_epochs=1"]


def _results(sweep: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep.rglob("results.json")}


def test_failing_job_is_recorded_and_skip_done_resumes(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", "model=sasrec", "model.heads=2,3", *FAST, f"hydra.sweep.dir={sweep}"]
    proc = llmrec(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (failed,) = sweep.rglob("failed.json")
    record = json.loads(failed.read_text())
    assert record["status"] == "failed" and "must be a multiple of model.heads=3" in record["error"]
    assert record["type"] and record["error"]
    (done,) = sweep.rglob("results.json")
    assert "must be a multiple of model.heads=3" in (sweep / "report.md").read_text()
    stamp = done.stat().st_mtime_ns
    rerun = llmrec(*args, "skip_done=true", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "skip_done" in rerun.stdout and done.stat().st_mtime_ns == stamp
    assert failed.is_file()  # the broken job ran again and failed again


@pytest.mark.slow  # ~45 s on 2 busy cores: 4 jobs in 2 worker processes
def test_joblib_sweep_with_report_against_a_baseline(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = llmrec(
        "-m", "model=popularity,sasrec", "seed=0,1", *FAST,
        "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        "hydra.callbacks.report.baseline=popularity", "hydra.callbacks.report.min_seeds=2",
        f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = _results(sweep)
    assert sorted((r["model"], r["seed"]) for r in results.values()) == [
        ("popularity", 0), ("popularity", 1), ("sasrec", 0), ("sasrec", 1),
    ]  # fmt: skip
    report = (sweep / "report.md").read_text()
    assert "against popularity" in report and "Efficiency" in report
    assert (sweep / "report_significance.csv").is_file() and (sweep / "report_speed.png").stat().st_size > 0


@pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None, reason="no submitit"
)
@pytest.mark.slow  # ~45 s: each job is a fresh process through submitit's SLURM code path
def test_submitit_local_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = llmrec(
        "-m", "model=popularity", "seed=0,1", *FAST, "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(r["seed"] for r in _results(sweep).values()) == [0, 1]
    assert (sweep / ".submitit").is_dir() and (sweep / "report.md").is_file()


@pytest.mark.slow
def test_the_documented_sweep_as_typed(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = llmrec(
        "-m", "model=sasrec,bert4rec,popularity", "dataset=tiny", "seed=0,1", "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(_results(sweep)) == 6


@pytest.mark.slow
def test_wandb_sweep_logs_one_run_per_job_and_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmrec.run.loggers import sweep_group_name
    from tests.wandb_records import read_run, run_files

    monkeypatch.setenv("WANDB_MODE", "offline")
    sweep = tmp_path / "sweep"
    proc = llmrec(
        "-m", "model=popularity", "seed=0,1", *FAST, "logger=wandb", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [read_run(p) for p in run_files(sweep)]
    jobs = [r for r in runs if r["run"]["job_type"] == "train"]
    assert len(jobs) == 2 and {r["run"]["group"] for r in runs} == {sweep_group_name(sweep)}
    (report,) = [r for r in runs if r["run"]["job_type"] == "report"]
    assert any(a["type"] == "report" for a in report["artifacts"])


def test_failure_records_and_finished_results(tmp_path: Path) -> None:
    from llmrec.errors import ConfigError
    from llmrec.run.sweeps import clear_failure, finished_results, monitored_value, record_failure

    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError as error:
        record = json.loads(record_failure(tmp_path, error).read_text())
    assert record["type"] == "ZeroDivisionError" and "raise ZeroDivisionError" in record["traceback"]
    user = json.loads(record_failure(tmp_path, ConfigError("bad value")).read_text())
    assert user == {"status": "failed", "error": "bad value", "type": "ConfigError"}
    clear_failure(tmp_path)
    assert not (tmp_path / "failed.json").exists() and finished_results(tmp_path) is None
    (tmp_path / "results.json").write_text("{broken")
    assert finished_results(tmp_path) is None  # unreadable: the job runs again
    done = {"status": "ok", "metrics": {"val": {"ndcg_10": 0.25}}}
    (tmp_path / "results.json").write_text(json.dumps(done))
    assert finished_results(tmp_path) == done and monitored_value(done, "val/ndcg_10") == 0.25
    assert monitored_value(done, "val/hr_5") is None
