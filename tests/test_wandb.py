"""W&B: offline by default without a key, one run per job with the test metrics, config and
results.json in it (read back from the run file), no API key written anywhere; TensorBoard's error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llmrec.errors import ConfigError
from llmrec.run.loggers import has_wandb_credentials, redact, tensorboard_logger, wandb_mode
from tests.test_app import llmrec
from tests.wandb_records import read_run, run_files

SECRET = "i7fakekey" + "0123456789abcdef" * 2


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    return tmp_path / "netrc"


def test_mode_is_offline_without_credentials(no_credentials: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not has_wandb_credentials() and wandb_mode(None) == "offline"
    no_credentials.write_text("machine api.wandb.ai\n  login user\n  password abc\n")
    assert has_wandb_credentials() and wandb_mode(None) == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode(None) == "disabled" and wandb_mode("offline") == "offline"
    with pytest.raises(ConfigError, match="not one of"):
        wandb_mode("cloud")


def test_redact_hides_secret_looking_keys() -> None:
    cfg = {"logger": {"wandb": {"api_key": "x", "project": "p"}}, "list": [{"token": 1}]}
    assert redact(cfg) == {
        "logger": {"wandb": {"api_key": "***", "project": "p"}},
        "list": [{"token": "***"}],
    }


def test_tensorboard_missing_is_one_clear_error(tmp_path: Path) -> None:
    try:
        import tensorboard  # noqa: F401

        pytest.skip("tensorboard is installed")
    except ImportError:
        pass
    with pytest.raises(ConfigError, match="pip install tensorboard"):
        tensorboard_logger(str(tmp_path))


def test_offline_run_holds_test_metrics_config_and_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", SECRET)  # a key in the environment must not leak into any file
    monkeypatch.setenv("WANDB_MODE", "offline")
    out = tmp_path / "run"
    args = ["model=sasrec", "debug=tiny", "trainer.max_epochs=1", "logger=wandb"]
    proc = llmrec(*args, f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    (path,) = run_files(out / "wandb")
    run = read_run(path)
    assert run["run"]["tags"] == ["sasrec", "tiny", "seed=0"] and run["run"]["project"] == "llmrec"
    assert run["run"]["group"] == ""  # a single run has no sweep group
    assert any("train/loss" in row for row in run["history"])  # curves, not only final numbers
    assert any("val/ndcg_10" in row and "epoch" in row for row in run["history"])
    for name, value in results["metrics"]["test"].items():
        assert run["summary"][f"final/test/{name}"] == pytest.approx(value)
        assert run["summary"][f"test/{name}"] == pytest.approx(value, rel=1e-6)
    assert run["config"]["model"]["_target_"] == "llmrec.models.sasrec.SASRec"
    assert run["summary"]["parameters/trainable"] == results["parameters"]["trainable"]
    assert run["config"]["seed"] == 0
    assert any(a["type"] == "results" for a in run["artifacts"]) and run["exit"] == 0
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert not leaked and SECRET not in proc.stdout + proc.stderr


def test_wandb_is_not_imported_by_a_csv_run(tmp_path: Path) -> None:
    code = (
        "import sys; from llmrec.run.pipeline import run; from tests.conftest import compose_config;"
        f"run(compose_config(['model=popularity','debug=tiny'], __import__('pathlib').Path('{tmp_path}')),"
        f" __import__('pathlib').Path('{tmp_path / 'out'}')); assert 'wandb' not in sys.modules"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}:{root}"}
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
