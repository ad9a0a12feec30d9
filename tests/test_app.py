"""End to end: ``python -m llmrec`` as a user types it, a multirun, the report, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmrec.errors import ConfigError, DataError, LlmrecError
from llmrec.report.summary import main as report_main
from llmrec.run.pipeline import run
from llmrec.run.results import code_version
from tests.conftest import compose_config, write_sequences

ROOT = Path(__file__).resolve().parents[1]


def llmrec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-m", "llmrec", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_single_run_writes_results_and_prints_a_table(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = llmrec("model=sasrec", "debug=tiny", f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ndcg_10" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "ok" and results["model"] == "sasrec" and results["dataset"] == "tiny"
    assert set(results["metrics"]) == {"val", "test"}
    for name in ("hr_5", "ndcg_10", "mrr_20", "coverage_10", "novelty_10", "arp_10"):
        assert name in results["metrics"]["test"]
    assert len(results["per_user"]["test"]["rank"]) == results["data"]["users"]
    assert results["parameters"]["trainable"] == results["parameters"]["total"] > 0
    assert results["timings"]["fit_seconds"] > 0 and results["timings"]["test_users_per_second"] > 0
    assert results["config"]["model"]["_target_"] == "llmrec.models.sasrec.SASRec"
    assert results["data"]["fingerprint"].startswith("tiny-")
    assert results["best_checkpoint"] and Path(results["best_checkpoint"]).is_file()
    assert "package" in results["code_version"]
    assert (out / "llmrec.log").is_file()  # hydra.job.name: llmrec, not __main__


def test_console_script_with_a_user_config_dir(tmp_path: Path) -> None:
    """``llmrec --config-dir DIR``: the user's folder is searched first, the packaged configs still
    compose around it (a user model config extends a packaged one)."""
    (tmp_path / "my_conf" / "model").mkdir(parents=True)
    (tmp_path / "my_conf" / "model" / "my_sasrec.yaml").write_text(
        "defaults:\n  - sasrec\n  - _self_\nname: my_sasrec\nhidden: 16\n"
    )
    script = Path(sys.executable).parent / "llmrec"
    assert script.is_file(), "the llmrec console script is missing: reinstall (make setup)"
    args = [str(script), "--config-dir", "my_conf", "model=my_sasrec", "debug=tiny", "--cfg", "job"]
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "name: my_sasrec" in proc.stdout and "hidden: 16" in proc.stdout
    assert "_target_: llmrec.models.sasrec.SASRec" in proc.stdout


def test_multirun_of_two_jobs_then_report(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = llmrec("-m", "model=popularity,sasrec", "debug=tiny", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted(sweep.rglob("results.json"))
    assert len(results) == 2
    assert report_main([str(sweep)]) == 0
    table = (sweep / "report.md").read_text()
    assert "popularity" in table and "sasrec" in table
    assert (sweep / "report.csv").is_file() and (sweep / "report.png").stat().st_size > 0
    ndcg = {
        json.loads(p.read_text())["model"]: json.loads(p.read_text())["metrics"]["test"]["ndcg_10"]
        for p in results
    }
    assert f"{ndcg['sasrec']:.4f}" in table


@pytest.mark.parametrize("flag", ["--help", "--cfg job"])
def test_help_and_cfg(flag: str, tmp_path: Path) -> None:
    proc = llmrec(*flag.split(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ("model" in proc.stdout) and ("dataset" in proc.stdout)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["model=sasrek"], "Could not find 'model/sasrek'"),
        (["dataset=nope"], "Could not find 'dataset/nope'"),
        (["model.hiden=3"], "hiden"),
        (["dataset=beauty", "dataset.root=/nonexistent/beauty"], "does not exist"),
        (["debug=tiny", "dataset.max_len=0"], "max_len must be a positive integer"),
        (["debug=tiny", "eval.ks=[0,5]"], "eval.ks must be a non-empty list of positive integers"),
        (["-m", "--cfg", "job", "model=sasrec,bert4rec"], "to see one job's config drop -m"),
    ],
)
def test_bad_input_gets_one_clear_error(args: list[str], expected: str, tmp_path: Path) -> None:
    proc = llmrec(*args, f"hydra.run.dir={tmp_path / 'out'}", cwd=tmp_path)
    assert proc.returncode != 0
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def tiny_processed(tmp_path: Path, lines: str) -> list[str]:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    (folder / "Beauty.txt").write_text(lines, encoding="utf-8")
    return ["dataset=beauty", f"dataset.root={folder}", "debug=tiny", "dataset.max_len=5"]


def test_processed_dataset_runs_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    write_sequences(folder / "Beauty.txt", {f"u{u}": [1 + (u + j) % 6 for j in range(6)] for u in range(12)})
    overrides = ["dataset=beauty", f"dataset.root={folder}", "debug=tiny", "dataset.max_len=5"]
    results = run(compose_config(["model=popularity", *overrides], tmp_path), tmp_path / "out")
    assert results["data"] == results["data"] | {"users": 12, "items": 6, "interactions": 72}


def test_malformed_line_names_file_and_line_and_leaves_no_cache(tmp_path: Path) -> None:
    overrides = tiny_processed(tmp_path, "1 1 2 3 4 5\n2\n")
    with pytest.raises(DataError, match=r"Beauty.txt:2"):
        run(compose_config(["model=popularity", *overrides], tmp_path), tmp_path / "out")
    assert not list((tmp_path / "cache").rglob("*.npz"))


def test_empty_after_filtering_is_one_error(tmp_path: Path) -> None:
    overrides = tiny_processed(tmp_path, "1 1 2 3\n2 4 5 6\n")
    with pytest.raises(DataError, match="empty after 5-core"):
        run(compose_config(["model=popularity", *overrides], tmp_path), tmp_path / "out")
    assert not list((tmp_path / "cache").rglob("*.npz"))


@pytest.mark.parametrize(
    "override", ["eval.monitor=val/ndcg_7", "datamodule.batch_size=0", "model.lr=-1", "dataset.k_core=-2"]
)
def test_impossible_values_are_config_errors(override: str, tmp_path: Path) -> None:
    with pytest.raises(LlmrecError):
        run(compose_config(["debug=tiny", override], tmp_path), tmp_path / "out")


def test_config_errors_are_llmrec_errors() -> None:
    assert issubclass(ConfigError, LlmrecError) and issubclass(DataError, LlmrecError)


def test_code_version_counts_a_new_module_in_the_package_as_dirty() -> None:
    package = ROOT / "src" / "llmrec"
    if code_version()["commit"] is None or code_version()["dirty"]:
        pytest.skip("needs a clean git checkout")
    new_module = package / "_untracked_probe.py"
    new_module.write_text("")
    try:
        assert code_version()["dirty"] is True
    finally:
        new_module.unlink()
    assert code_version()["dirty"] is False
