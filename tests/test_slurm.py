"""hydra/launcher=slurm: the preset composes, asks SLURM for a requeue with submitit's USR2 signal only
(Lightning's SIGUSR1 auto-requeue stays idle), launches every job with resume=true, and a requeued job
continues from its own last.ckpt (the slurm_local twin, through submitit's local executor)."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from tests.conftest import CONF_DIR

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None, reason="no submitit"
)


def _launcher(option: str, *overrides: str) -> dict:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra/launcher={option}", *overrides], return_hydra_config=True)
    node = OmegaConf.to_container(cfg.hydra.launcher)
    node["tasks_per_node"] = cfg.hydra.launcher.tasks_per_node  # a relative interpolation, resolved
    return node


def test_presets_compose() -> None:
    slurm = _launcher("slurm", "hydra.launcher.gpus_per_node=4", "hydra.launcher.nodes=2")
    assert slurm["_target_"] == "hydra_plugins.llmrec_launchers.submitit_resume.ResumingSlurmLauncher"
    assert slurm["tasks_per_node"] == 4 and slurm["nodes"] == 2  # one task per GPU
    assert slurm["max_num_timeout"] > 0 and slurm["additional_parameters"] == {"requeue": True}
    local = _launcher("slurm_local")
    assert local["_target_"] == "hydra_plugins.llmrec_launchers.submitit_resume.ResumingLocalLauncher"


def test_jobs_resume_and_get_the_allocation_size() -> None:
    from llmrec.run.slurm import resuming_overrides

    sizes = {"num_nodes": 2, "devices": 4}
    assert resuming_overrides(["seed=1"], sizes) == [
        "seed=1", "resume=true", "++trainer.num_nodes=2", "++trainer.devices=4",
    ]  # fmt: skip
    given = ["resume=false", "trainer.num_nodes=3"]
    assert resuming_overrides(given, sizes) == [*given, "++trainer.devices=4"]
    assert resuming_overrides(["seed=1"]) == ["seed=1", "resume=true"]
    assert resuming_overrides([], {"num_nodes": 1, "devices": None}) == [
        "resume=true",
        "++trainer.num_nodes=1",
    ]


def test_sbatch_script_requeues_with_submitits_signal_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sbatch header submitit writes for the preset (as its launcher passes the preset to the
    executor): --requeue, USR2 before the time limit, never USR1 (Lightning's auto-requeue signal)."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from submitit.slurm.slurm import SlurmExecutor

    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # no srun on this machine
    params = _launcher("slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=2")
    timeouts = params.pop("max_num_timeout")
    executor = submitit.AutoExecutor(cluster="slurm", folder=tmp_path, slurm_max_num_timeout=timeouts)
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    skip = {"submitit_folder", "_target_", "name"}  # the folder, the class, an interpolation of hydra.job
    executor.update_parameters(
        **{k if k in base else f"slurm_{k}": v for k, v in params.items() if k not in skip}
    )
    assert executor._executor.max_num_timeout == timeouts
    script = executor._executor._make_submission_file_text("python -m submitit.core._submit", "uid")
    for line in (
        "--requeue",
        "--signal=USR2@120",
        "--ntasks-per-node=2",
        "--gpus-per-node=2",
        "--partition=gpu",
    ):
        assert f"#SBATCH {line}" in script, script
    assert "USR1" not in script


@pytest.mark.slow  # ~30 s idle, ~50 s on 2 busy cores: two submitit jobs training SASRec 1, then 2 epochs
def test_requeued_job_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    from tests.test_app import llmrec

    sweep = tmp_path / "sweep"
    common = ["-m", "model=sasrec", "debug=tiny", "hydra/launcher=slurm_local", f"hydra.sweep.dir={sweep}"]
    common += ["callbacks.early_stopping.patience=100", f"paths.cache_dir={tmp_path / 'cache'}"]
    first = llmrec(*common, "trainer.max_epochs=1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    (job,) = [p.parent for p in sweep.glob("*/results.json")]
    assert json.loads((job / "results.json").read_text())["timings"]["epochs"] == 1
    first_epoch_rows = epoch_rows(job, "0")
    (job / "results.json").unlink()  # the job was stopped by its time limit before it finished
    requeued = llmrec(*common, "trainer.max_epochs=2", cwd=tmp_path)  # the rest of its epochs
    assert requeued.returncode == 0, requeued.stderr[-3000:]
    log = (job / "llmrec.log").read_text()
    assert f"resuming from {job / 'checkpoints' / 'last.ckpt'}" in log, log
    results = json.loads((job / "results.json").read_text())
    assert results["timings"]["epochs"] == 2 and results["config"]["resume"] is True
    assert "Restored all states from the checkpoint" in log  # Lightning's loop, optimizer and RNG state
    # the requeued job continued the first one's metrics.csv: epoch 0 logged once (not trained again)
    assert first_epoch_rows and epoch_rows(job, "0") == first_epoch_rows and epoch_rows(job, "1")


def epoch_rows(job: Path, epoch: str) -> list[dict[str, str]]:
    """The rows of ``job``'s metrics.csv logged in ``epoch``, with their non-empty values."""
    with open(job / "csv" / "metrics.csv", newline="") as file:
        table = csv.DictReader(file)
        return [{k: v for k, v in row.items() if v} for row in table if row["epoch"] == epoch]
