"""The Optuna study of ``python -m llmrec.tune``: stored in SQLite, resumed where it stopped, one trial at
a time by ask and tell so that a failed trial is recorded (state FAIL, its error as the user attribute
``error``) and the study goes on. A trial killed with its process stays RUNNING in the storage; the next run
records it as failed, does not count it, and queues its grid point again."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from omegaconf import DictConfig
from optuna.trial import TrialState

from llmrec.errors import ConfigError, LlmrecError
from llmrec.run.api import compose
from llmrec.run.pipeline import check_eval
from llmrec.run.tune_settings import TuneSettings
from llmrec.run.tune_space import SearchSpace, apply_params, check_keys, load_space
from llmrec.run.tune_state import save as save_state
from llmrec.run.tune_trial import run_trial

log = logging.getLogger(__name__)

ERROR_ATTR = "error"
INTERRUPTED = "interrupted before it finished"


@dataclass
class TuneJob:
    """What a study needs: the composed config, the space, where it is stored and how many trials."""

    cfg: DictConfig
    space: SearchSpace
    settings: TuneSettings
    folder: Path
    study_name: str
    trials: int  # the budget: tune.trials, the grid's size for a grid, 1 for an empty space

    @property
    def storage(self) -> str:
        return f"sqlite:///{(self.folder / 'study.db').resolve()}"

    @property
    def dashboard(self) -> str:
        return f"optuna-dashboard {self.storage}"


def prepare(settings: TuneSettings) -> TuneJob:
    """Compose the config and check the space against it: every bad input fails here, before a trial."""
    cfg = compose(settings.overrides)
    check_eval(cfg)
    model, dataset = str(cfg.model.get("name", "model")), str(cfg.dataset.name)
    space = load_space(settings.space or model)
    check_keys(space, cfg)
    folder = Path(settings.dir) if settings.dir else Path(cfg.paths.log_dir) / "tune" / f"{model}_{dataset}"
    trials = space.grid_size() if space.is_grid else settings.trials if space.params else 1
    return TuneJob(cfg, space, settings, folder, f"{model}_{dataset}", trials)


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler without its stop at the last grid point: ``Study.stop`` works inside
    ``Study.optimize`` only, and the tuner's ask-and-tell loop stops itself after the grid's size."""

    def after_trial(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        return None


def _sampler(job: TuneJob, done: int = 0) -> optuna.samplers.BaseSampler:
    """Seeded by ``tune.sampler_seed``, plus the trials already stored: a resumed study must not draw
    the first trials' random start-up points again."""
    seed = job.settings.sampler_seed + done
    if job.space.is_grid:
        return AskTellGridSampler(job.space.grid(), seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(job: TuneJob) -> optuna.pruners.BasePruner:
    if not job.settings.prune:
        return optuna.pruners.NopPruner()
    settings = job.settings
    return optuna.pruners.MedianPruner(
        n_startup_trials=settings.prune_startup, n_warmup_steps=settings.prune_warmup
    )


def open_study(job: TuneJob) -> optuna.Study:
    """The stored study (created on first use); one tuned over another space or config is refused."""
    job.folder.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        storage=job.storage,
        study_name=job.study_name,
        direction="maximize",  # eval.monitor is a val/ HR, NDCG or MRR: larger is better
        sampler=_sampler(job),
        pruner=_pruner(job),
        load_if_exists=True,
    )
    # trial_epochs None (the run's own cap) is what a study stored before the setting existed holds
    identity = {
        "space": job.space.params,
        "overrides": list(job.settings.overrides),
        "trial_epochs": job.settings.trial_epochs or None,
    }
    stored = {key: study.user_attrs.get(key) for key in identity}
    if not study.trials and stored["space"] is None:
        for key, value in identity.items():
            study.set_user_attr(key, value)
    elif stored != identity:
        raise ConfigError(
            f"{job.folder / 'study.db'} holds study {job.study_name} tuned with space {stored['space']} and "
            f"overrides {stored['overrides']} (trial_epochs {stored['trial_epochs']}); this run asks for "
            f"{identity['space']} with {identity['overrides']} (trial_epochs {identity['trial_epochs']}): "
            "give another tune.dir or the same arguments"
        )
    _recover_interrupted(study, job.space)
    if study.trials:
        study.sampler = _sampler(job, done=len(study.trials))
    return study


def _recover_interrupted(study: optuna.Study, space: SearchSpace) -> None:
    """Trials left running by a killed process are failed (not counted); a grid point is queued again."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
        log.warning("trial %d was %s; recorded as failed and not counted", trial.number, INTERRUPTED)
        if space.is_grid and len(trial.params) == len(space.params):
            study.enqueue_trial(trial.params)


def counted(trial: optuna.trial.FrozenTrial) -> bool:
    """A trial that used up budget: finished, pruned, or failed by its own error (not interrupted)."""
    if trial.state == TrialState.FAIL:
        return ERROR_ATTR in trial.user_attrs
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED)


def _one_trial(job: TuneJob, study: optuna.Study) -> optuna.trial.FrozenTrial:
    trial = study.ask()
    trial_dir = job.folder / "trials" / f"trial_{trial.number:04d}"
    trial.set_user_attr("dir", str(trial_dir))
    started = time.perf_counter()
    state, value, error = TrialState.COMPLETE, None, None
    try:
        cfg = apply_params(job.cfg, job.space.suggest(trial))
        if job.settings.trial_epochs:
            cfg.trainer.max_epochs = job.settings.trial_epochs
        value = run_trial(cfg, trial, trial_dir, prune=job.settings.prune)
        if value != value:  # NaN
            state, error = TrialState.FAIL, f"{job.cfg.eval.monitor} is NaN"
    except optuna.TrialPruned as pruned:
        state, error = TrialState.PRUNED, str(pruned)
    except Exception as failure:  # one trial's failure (bad combination, NaN loss, OOM) never ends the study
        state, error = TrialState.FAIL, f"{type(failure).__name__}: {failure}"
        log.warning("trial %d failed: %s", trial.number, error)
        _free_memory()
    trial.set_user_attr("seconds", time.perf_counter() - started)
    if error is not None:
        trial.set_user_attr(ERROR_ATTR if state == TrialState.FAIL else "pruned", error)
    return study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_study(job: TuneJob, study: optuna.Study) -> int:
    """Run the trials still missing to reach the budget; returns how many ran now."""
    done = sum(counted(trial) for trial in study.get_trials(deepcopy=False))
    missing = max(0, job.trials - done)
    log.info(f"study {job.study_name}: {done} of {job.trials} trials done, {missing} to run ({job.storage})")
    for _ in range(missing):
        frozen = _one_trial(job, study)
        shown = "" if frozen.value is None else f" {job.cfg.eval.monitor}={frozen.value:.4f}"
        note = frozen.user_attrs.get(ERROR_ATTR, "")
        seconds = frozen.user_attrs["seconds"]
        state = f"{frozen.state.name}{shown}"
        log.info(f"trial {frozen.number}: {state} in {seconds:.1f} s {frozen.params} {note}")
        save_state(job.settings.state, job.folder)
    return missing


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    if not any(trial.state == TrialState.COMPLETE for trial in study.trials):
        raise LlmrecError(f"no trial of study {study.study_name} completed; see the errors in tuning.json")
    return study.best_trial
