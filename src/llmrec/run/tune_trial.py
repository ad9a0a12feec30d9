"""One tuning trial: the run's pipeline pieces up to validation and no further. Data, the model's earlier
stages (themselves fit and validated only), the model, fit on train, the best checkpoint on validation,
one validation pass. Test data is never loaded, so a trial cannot read a test metric."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import optuna
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from pytorch_lightning.trainer.states import TrainerFn

from llmrec.models.base import SequentialRecommender
from llmrec.run.instantiate import check_seed, check_trainer
from llmrec.run.pipeline import build_trainer, check_eval, prepare_data, setup_model
from llmrec.run.stages import run_model_stages


class PruneOnValidation(pl.Callback):
    """Reports ``monitor`` to the trial after each validation of the fit (epoch = step) and stops the
    trial with :class:`optuna.TrialPruned` when the study's pruner says so."""

    def __init__(self, trial: optuna.Trial, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        epoch = trainer.current_epoch
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch}: {self.monitor}={float(value):.4f}")


def _load_best(model: SequentialRecommender, trainer: pl.Trainer) -> str | None:
    checkpoint = trainer.checkpoint_callback
    path = getattr(checkpoint, "best_model_path", "") if checkpoint is not None else ""
    if path:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["state_dict"])
    return path or None


def fit_validate(
    cfg: DictConfig, output_dir: Path, callbacks: tuple[pl.Callback, ...] = ()
) -> dict[str, Any]:
    """Fit ``cfg``'s model on train (if it trains), keep its best checkpoint on validation and validate
    it: ``{"best_checkpoint", "metrics": {"val": ...}, "epochs"}``. Also the runner of a model's earlier
    stages during tuning, so E4SRec's stage-1 SASRec is not tested either."""
    cfg.paths.output_dir = str(output_dir)
    check_seed(cfg.seed)
    check_trainer(cfg.trainer)
    ks, _ = check_eval(cfg)
    prepared = prepare_data(cfg)
    run_model_stages(cfg, output_dir, prepared.split, prepared.fingerprint, fit_validate)
    model = setup_model(cfg, prepared, ks)
    trains = model.requires_training
    stamp = {"dataset": prepared.fingerprint, "model": str(cfg.model._target_)}
    stamp["num_items"] = prepared.data.num_items
    trainer = build_trainer(cfg, output_dir, stamp if trains else None)
    trainer.callbacks[:0] = list(callbacks)
    if trains:
        trainer.fit(model, datamodule=prepared.datamodule, weights_only=True)
    best = _load_best(model, trainer) if trains else None
    metrics = trainer.validate(model, datamodule=prepared.datamodule, verbose=False)[0]
    val = {key.removeprefix("val/"): float(value) for key, value in metrics.items() if key.startswith("val/")}
    return {
        "best_checkpoint": best,
        "metrics": {"val": val},
        "epochs": trainer.current_epoch if trains else 0,
    }


def run_trial(cfg: DictConfig, trial: optuna.Trial, trial_dir: Path, prune: bool) -> float:
    """The trial's validation score (``eval.monitor`` of its best checkpoint); its checkpoints are deleted
    afterwards (the best trial is trained again over seeds)."""
    monitor = str(cfg.eval.monitor)
    pl.seed_everything(check_seed(cfg.seed), workers=True, verbose=False)
    callbacks = (PruneOnValidation(trial, monitor),) if prune else ()
    try:
        result = fit_validate(cfg, trial_dir, callbacks)
    finally:
        for folder in sorted(trial_dir.rglob("checkpoints"), reverse=True):
            shutil.rmtree(folder, ignore_errors=True)
    trial.set_user_attr("epochs", int(result["epochs"]))
    return result["metrics"]["val"][monitor.removeprefix("val/")]
