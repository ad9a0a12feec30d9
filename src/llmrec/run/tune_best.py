"""After the study: the best trial's parameters trained again over seeds with the full pipeline (the only
place tuning computes test metrics), and ``tuning.json``: the trials, the best, the re-runs and the cost."""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path
from typing import Any

import optuna
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from llmrec.errors import ConfigError
from llmrec.io import write_json_atomic
from llmrec.run.pipeline import run
from llmrec.run.tune_space import apply_params
from llmrec.run.tune_state import BEST_PARAMS
from llmrec.run.tune_state import save as save_state
from llmrec.run.tune_study import ERROR_ATTR, INTERRUPTED, TuneJob, counted

log = logging.getLogger(__name__)


def _started_with(folder: Path, params: dict[str, Any]) -> bool:
    """Whether ``folder`` holds a re-run of ``params`` that was started before (it is resumed from its own
    last checkpoint); one started with other parameters (the study grew and found another best) is refused."""
    record = folder / BEST_PARAMS
    if not record.is_file():
        return False
    started = json.loads(record.read_text(encoding="utf-8"))
    if started != params:
        raise ConfigError(
            f"{folder} holds a re-run of other parameters ({started}), not of the best trial's ({params}); "
            f"delete the folder to train this seed again"
        )
    return True


def rerun_best(job: TuneJob, params: dict[str, Any]) -> list[dict[str, Any]]:
    """``params`` over every seed of ``tune.seeds``, each a normal run in ``<tune.dir>/best/seed_<s>``; a
    seed whose folder already holds ``results.json`` of these parameters (a resumed tuning run) is read, not
    trained again, and one interrupted part way continues from its last checkpoint."""
    reruns = []
    for seed in job.settings.seeds:
        folder = job.folder / "best" / f"seed_{seed}"
        done = folder / "results.json"
        if done.is_file():
            _started_with(folder, params)  # a study that grew may have found another best
            results = json.loads(done.read_text(encoding="utf-8"))
        else:
            cfg = apply_params(job.cfg, params)
            cfg.seed = seed
            cfg.resume = _started_with(folder, params)
            folder.mkdir(parents=True, exist_ok=True)
            write_json_atomic(folder / BEST_PARAMS, params)
            pl.seed_everything(seed, workers=True, verbose=False)
            results = run(cfg, folder)
            save_state(job.settings.state, job.folder)
        reruns.append({"seed": seed, "dir": str(folder), **results["metrics"]})
        metric = str(job.cfg.eval.monitor).removeprefix("val/")
        test = results["metrics"]["test"].get(metric, float("nan"))
        log.info(f"best params, seed {seed}: test/{metric}={test:.4f} -> {done}")
    return reruns


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    rows = []
    for trial in study.get_trials(deepcopy=False):
        error = trial.user_attrs.get(ERROR_ATTR)
        if trial.state == TrialState.FAIL and error is None:
            error = INTERRUPTED
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "params": trial.params,
                "value": trial.value,
                "seconds": trial.user_attrs.get("seconds"),
                "epochs": trial.user_attrs.get("epochs"),
                "counted": counted(trial),
                "error": error,
                "pruned": trial.user_attrs.get("pruned"),
                "dir": trial.user_attrs.get("dir"),
            }
        )
    return rows


def cost(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Seconds per trial (every counted trial, pruned and failed ones included) and the state counts."""
    seconds = [row["seconds"] for row in rows if row["counted"] and row["seconds"] is not None]
    states = [row["state"] for row in rows if row["counted"]]
    return {
        "trials": len(states),
        "complete": states.count("COMPLETE"),
        "pruned": states.count("PRUNED"),
        "failed": states.count("FAIL"),
        "interrupted": sum(not row["counted"] and row["state"] == "FAIL" for row in rows),
        "mean_seconds": statistics.fmean(seconds) if seconds else None,
        "median_seconds": statistics.median(seconds) if seconds else None,
        "total_seconds": sum(seconds),
    }


def space_note(job: TuneJob) -> str:
    if job.space.is_grid:
        return f"grid: each of the {job.trials} combinations once (tune.trials does not apply)"
    if not job.space.params:
        return "empty space: nothing to tune; one trial validates the model as configured"
    return f"TPE sampler, seed {job.settings.sampler_seed}: {job.trials} trials (tune.trials)"


def run_budget(cfg: DictConfig) -> dict[str, Any]:
    """What each trial trained under: the trainer's limits and the run's ``budget`` node, if any."""
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert isinstance(trainer, dict)
    keys = ("max_epochs", "max_steps", "max_time", "check_val_every_n_epoch", "accelerator", "precision")
    budget = cfg.get("budget")
    return {
        "trainer": {key: trainer[key] for key in keys if key in trainer},
        "budget": OmegaConf.to_container(budget, resolve=True) if budget is not None else None,
    }


def summary(job: TuneJob, study: optuna.Study) -> dict[str, Any]:
    """``tuning.json`` without the best trial and its re-runs (added when they exist)."""
    rows = trial_rows(study)
    settings = job.settings
    return {
        "model": str(job.cfg.model.get("name", "model")),
        "dataset": str(job.cfg.dataset.name),
        "study": job.study_name,
        "storage": job.storage,
        "dashboard": job.dashboard,
        "monitor": str(job.cfg.eval.monitor),
        "direction": "maximize",
        "space": job.space.as_dict(),
        "trial_budget": job.trials,
        "sampling": space_note(job),
        "pruner": (
            {
                "name": "median",
                "startup_trials": settings.prune_startup,
                "warmup_epochs": settings.prune_warmup,
            }
            if settings.prune
            else None
        ),
        "overrides": list(settings.overrides),
        "run_budget": run_budget(job.cfg),
        "trial_max_epochs": settings.trial_epochs or job.cfg.trainer.get("max_epochs"),
        "trials": rows,
        "cost": cost(rows),
    }


def write_summary(job: TuneJob, content: dict[str, Any]) -> Path:
    path = job.folder / "tuning.json"
    write_json_atomic(path, content)
    return path
