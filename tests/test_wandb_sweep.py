"""W&B on clusters: the sweep agent's ``${args_no_hyphens}`` compose as Hydra overrides
(docs/wandb_sweep.yaml), a sweep's group names its whole folder, and the resolved config is in the run
from its start, so a run killed mid-way (SIGKILL) still holds it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmrec.run.loggers import sweep_group_name
from tests.conftest import compose_config
from tests.wandb_records import read_run, run_files

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "docs" / "wandb_sweep.yaml"


def agent_args(parameters: dict[str, Any]) -> list[str]:
    """The command-line arguments wandb's agent puts in place of ``${args_no_hyphens}``."""
    from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

    command = {"args": {name: {"value": value} for name, value in parameters.items()}}
    return create_sweep_command_args(command)["args_no_hyphens"]


def choices(spec: dict[str, Any]) -> list[Any]:
    """Values the sweep may hand a parameter: its value, its values, or its range's ends."""
    if "value" in spec:
        return [spec["value"]]
    return list(spec["values"]) if "values" in spec else [spec["min"], spec["max"]]


def test_the_sweep_runs_llmrec_with_hydra_overrides() -> None:
    sweep = yaml.safe_load(SWEEP.read_text())
    assert sweep["command"] == ["${env}", "python", "-m", "llmrec", "${args_no_hyphens}"]
    assert sweep["metric"]["name"].startswith("val/")  # chosen on validation, never on test
    for end in (0, -1):  # every parameter at its first choice, then at its last
        picked = {name: choices(spec)[end] for name, spec in sweep["parameters"].items()}
        cfg = compose_config(agent_args(picked))
        assert cfg.model.name == picked["model"] and cfg.dataset.name == picked["dataset"]
        assert "wandb" in cfg.logger and cfg.samples.name == picked["samples"]
        assert (
            cfg.model.lr == pytest.approx(picked["model.lr"]) and cfg.model.hidden == picked["model.hidden"]
        )
        assert cfg.model.dropout == pytest.approx(picked["model.dropout"])
    assert cfg.eval.monitor == sweep["metric"]["name"]  # the metric llmrec logs and selects on


def test_the_agents_python_literals_compose() -> None:
    """The agent writes Python's str(value): True, 0.001, 1e-05; Hydra reads each as its type."""
    assert agent_args({"deterministic": True, "model.lr": 1e-05}) == ["deterministic=True", "model.lr=1e-05"]
    cfg = compose_config(["model=sasrec", *agent_args({"deterministic": True, "model.lr": 1e-05})])
    assert cfg.deterministic is True and cfg.model.lr == 1e-05


def test_two_sweep_folders_with_one_name_are_two_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "014_study" / "sweep", tmp_path / "016_study" / "sweep"
    assert sweep_group_name(first) != sweep_group_name(second)
    assert sweep_group_name(first).startswith("sweep-") and len(sweep_group_name(first)) == len("sweep-") + 8
    monkeypatch.chdir(tmp_path)  # a job given the folder relative to where the sweep was launched
    assert sweep_group_name(Path("014_study/sweep")) == sweep_group_name(first)
    assert sweep_group_name(str(first)) == sweep_group_name(first)


KILLED_RUN = """
import os, signal, sys
from pathlib import Path
from llmrec.run.pipeline import build_trainer
from tests.conftest import compose_config
tmp = Path(sys.argv[1])
cfg = compose_config(["model=sasrec", "debug=tiny", "logger=wandb", f"paths.output_dir={tmp / 'out'}"], tmp)
logger = build_trainer(cfg, tmp / "out", None).loggers[0]
for step in range(1000):  # a run some way in: its first records have reached the run file
    logger.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_run_holds_the_resolved_config(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
        "WANDB_MODE": "offline",
        **{f"WANDB_{name}_DIR": str(tmp_path / "wandb_home") for name in ("CACHE", "CONFIG", "DATA")},
    }
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    (path,) = run_files(tmp_path / "out")
    run = read_run(path)
    assert run["exit"] is None  # never finished
    assert run["config"]["model"]["_target_"] == "llmrec.models.sasrec.SASRec"
    assert run["config"]["logger"]["wandb"]["name"] == "sasrec_tiny_s0"  # interpolations resolved
    assert run["config"]["model"]["train_targets"] == "all"
