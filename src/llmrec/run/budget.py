"""Training budgets defined by compute (``budget/kind=...``, conf/budget/kind/), and whether a run converged.

- ``convergence`` (default): early stopping on ``eval.monitor`` after ``patience`` validations without
  improvement, capped at ``max_epochs`` (``trainer.max_epochs``).
- ``epochs``: ``max_epochs`` passes over the training samples, no early stopping.
- ``steps``: ``max_steps`` optimizer steps (one batch of ``datamodule.batch_size`` windows each), no epoch
  cap, no early stopping.
- ``examples``: stop after the step in which ``max_examples`` training examples were seen, no epoch cap,
  no early stopping. One example = one target of the sample schema (:mod:`llmrec.run.samples`): every
  position with an item before it for ``targets: all``, one per window for ``targets: last``. A model's
  loss may score fewer of them (``train_positions: sample``: one per window); results.json records both,
  ``budget.spent.examples`` (seen) and ``budget.spent.loss_targets`` (scored by the loss).

A run resumed (``resume=true``) after its budget stopped it but before its test trains no further.

``trainer.max_time`` stays available as a wall-clock box on top of any kind. Steps and examples budgets
stop mid-epoch and validate there, so the last weights count in checkpoint selection.

``converged``: true when early stopping fired or the last ``patience`` validations brought no improvement
of the monitored metric; false when the run ended (epochs, steps, examples, wall box) while it was still
improving within them; null when the model does not train or was never validated while training.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import EarlyStopping
from pytorch_lightning.trainer.states import TrainerFn
from torch import Tensor

from llmrec.checks import positive_int
from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError

log = logging.getLogger(__name__)

KINDS = ("epochs", "steps", "examples", "convergence")


@dataclass(frozen=True)
class Budget:
    """A run's budget: its kind and the limits that apply to it (None where one does not)."""

    kind: str
    max_epochs: int | None = None
    max_steps: int | None = None
    max_examples: int | None = None
    patience: int = 5
    max_time: Any = None  # trainer.max_time, the wall-clock box, as configured

    def trainer_limits(self) -> dict[str, int]:
        """``max_epochs`` / ``max_steps`` arguments of the Trainer (-1: no limit)."""
        epochs = self.max_epochs if self.kind in ("epochs", "convergence") and self.max_epochs else -1
        return {"max_epochs": epochs, "max_steps": self.max_steps if self.kind == "steps" else -1}

    def record(self) -> dict[str, Any]:
        return asdict(self)


def _epochs(value: Any) -> int | None:
    if value is None or value == -1:
        return None  # unbounded (Lightning's -1); a cosine schedule or early stopping ends the run
    return positive_int(value, "budget.max_epochs (trainer.max_epochs)")


def read_budget(cfg: DictConfig) -> Budget:
    """The checked ``budget`` node; a config without one (written before budgets) is ``convergence`` with
    the early-stopping patience and ``trainer.max_epochs`` it ran with."""
    node = cfg.get("budget") or {"kind": "convergence"}
    kind = node.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"budget.kind={kind} is not one of {KINDS}: choose budget/kind=<one of them>")
    patience = node.get("patience", OmegaConf.select(cfg, "callbacks.early_stopping.patience", default=5))
    limits: dict[str, Any] = {"patience": positive_int(patience, "budget.patience")}
    if kind in ("epochs", "convergence"):
        limits["max_epochs"] = _epochs(node.get("max_epochs", cfg.trainer.get("max_epochs")))
    else:
        key = f"max_{kind}"
        value = node.get(key)
        if value is None:
            raise ConfigError(f"budget/kind={kind} needs budget.{key}=<n> (a positive integer)")
        limits[key] = positive_int(value, f"budget.{key}")
    box = cfg.trainer.get("max_time")  # "DD:HH:MM:SS" or a mapping such as {minutes: 3}
    return Budget(
        kind, max_time=OmegaConf.to_container(box) if isinstance(box, DictConfig) else box, **limits
    )


def stage_budget(cfg: DictConfig) -> dict[str, Any]:
    """The budget of a model's earlier stage (E4SRec's stage-1 SASRec), whose trainer settings are its own:
    to convergence when the run's callbacks early-stop, else its epochs (a steps or examples budget is
    sized for the later model)."""
    stops = OmegaConf.select(cfg, "callbacks.early_stopping") is not None
    kind = "convergence" if stops else "epochs"
    return {"kind": kind, "max_epochs": cfg.trainer.get("max_epochs"), "patience": read_budget(cfg).patience}


def count_examples(batch: SeqBatch, targets: str) -> Tensor:
    """Training examples of a batch of windows under the schema's ``targets`` (``all`` | ``last``), as a
    0-d tensor on the batch's device (read without a device sync until a count is needed)."""
    items = batch.items
    if targets == "last":
        return (items[:, -1] != 0).sum()
    trained = (items[:, :-1] != 0) & (items[:, 1:] != 0)  # (B, L): a target with an item before it
    if batch.new_targets is not None:  # overlapping windows: the window's new targets only
        column = torch.arange(trained.shape[1], device=items.device)
        trained &= column[None, :] >= trained.shape[1] - batch.new_targets[:, None]
    return trained.sum()


class ComputeMeter(pl.Callback):
    """Counts the training examples seen (all ranks together) and stops training after the step in which
    ``max_examples`` or ``max_steps`` is reached (validation runs there first). Counts are summed on the
    device and read at validation and epoch ends, or every step only when ``max_examples`` needs them.

    Beside the schema's examples it counts ``loss_targets``, the targets the model's loss scored: fewer
    for a model that subsamples them (``train_positions: sample`` trains one target per window, BERT4Rec
    its cloze mask), so equal ``examples`` (the same data seen) can mean very different training."""

    def __init__(self, targets: str, max_steps: int | None = None, max_examples: int | None = None) -> None:
        self.targets, self.max_steps, self.max_examples = targets, max_steps, max_examples
        self.examples = 0
        self.loss_targets: int | None = 0  # None: unknown (resumed from a checkpoint that did not count them)
        self.pending: Tensor | None = None  # this rank's (examples, loss targets) since the last read

    def _read(self, trainer: pl.Trainer) -> None:
        if self.pending is not None:
            examples, scored = (int(n) for n in trainer.strategy.reduce(self.pending, reduce_op="sum"))
            self.examples += examples
            if self.loss_targets is not None:
                self.loss_targets += scored
            self.pending = None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        count = count_examples(batch, self.targets)
        scored = getattr(pl_module, "loss_targets", None)
        if scored is not None:
            pl_module.loss_targets = None  # a model that sets it sets it every step
        both = torch.stack([count, torch.as_tensor(count if scored is None else scored, device=count.device)])
        self.pending = both if self.pending is None else self.pending + both
        if self.max_examples is not None:
            self._read(trainer)
        if self.spent(trainer):
            trainer.should_stop = True

    def spent(self, trainer: pl.Trainer) -> bool:
        steps_done = self.max_steps is not None and trainer.global_step >= self.max_steps
        return steps_done or (self.max_examples is not None and self.examples >= self.max_examples)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._read(trainer)  # before the checkpoint of this validation saves the count

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._read(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._read(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"examples": self.examples, "loss_targets": self.loss_targets}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.examples = int(state_dict.get("examples", 0))
        # a checkpoint from before loss targets were counted: their total stays unknown (None), not a guess
        scored = state_dict.get("loss_targets")
        self.loss_targets = None if scored is None else int(scored)


class ValidationHistory(pl.Callback):
    """The monitored metric at every validation while fitting (sanity checks excluded), kept across a
    resume: what ``converged`` is judged on."""

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.values: list[float] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None:
            self.values.append(float(value))

    def state_dict(self) -> dict[str, Any]:
        return {"values": list(self.values)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.values = [float(v) for v in state_dict.get("values", [])]


class StoppedStaysStopped(pl.Callback):
    """A run resumed after its budget stopped it (early stopping fired, its steps or examples spent) but
    before its test trains no further. Lightning does not save ``should_stop``, so a resumed fit would
    train one more epoch, and more if that epoch improved, moving the selected checkpoint."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        meter = _one(trainer, ComputeMeter)
        stoppers = [callback for callback in trainer.callbacks if isinstance(callback, EarlyStopping)]
        fired = any(_has_fired(stopper) for stopper in stoppers)
        if fired or (meter is not None and meter.spent(trainer)):
            log.info("resumed after its budget stopped it: no further training, on to the test")
            trainer.should_stop = True


def _has_fired(stopper: EarlyStopping) -> bool:
    return stopper.wait_count >= stopper.patience or stopper.stopped_epoch > 0


def converged(history: Sequence[float], patience: int, stopped_early: bool = False) -> bool | None:
    """True if early stopping fired or none of the last ``patience`` values improved on the best before
    them (higher is better, ties are no improvement); False if one did; None without a history."""
    if stopped_early:
        return True
    if not history:
        return None
    best, best_at = -math.inf, -1
    for index, value in enumerate(history):
        if value > best:  # NaN never improves
            best, best_at = value, index
    return len(history) - 1 - best_at >= patience


def budget_callbacks(cfg: DictConfig, budget: Budget, callbacks: list[pl.Callback]) -> list[pl.Callback]:
    """``callbacks`` with early stopping kept (its patience the budget's) only for ``convergence``, plus the
    meter that counts examples and ends a steps or examples budget, and the validation history."""
    stoppers = [c for c in callbacks if isinstance(c, EarlyStopping)]
    if budget.kind != "convergence":
        callbacks = [c for c in callbacks if not isinstance(c, EarlyStopping)]
    elif not stoppers:
        raise ConfigError(
            "budget/kind=convergence stops by early stopping, but callbacks.early_stopping is off: "
            "use budget/kind=epochs, or callbacks=default"
        )
    for stopper in stoppers:
        stopper.patience = budget.patience
    targets = str(OmegaConf.select(cfg, "samples.targets", default="all"))
    meter = ComputeMeter(targets, budget.max_steps, budget.max_examples)
    return [*callbacks, meter, ValidationHistory(str(cfg.eval.monitor)), StoppedStaysStopped()]


def _one(trainer: pl.Trainer, kind: type) -> Any:
    return next((c for c in trainer.callbacks if isinstance(c, kind)), None)


def budget_results(cfg: DictConfig, trainer: pl.Trainer, trained: bool) -> dict[str, Any]:
    """``results.json``'s ``budget`` (kind, limits, and what was spent) and ``converged``."""
    budget = read_budget(cfg)
    record = budget.record()
    if not trained:
        return {"budget": record, "converged": None}
    meter, history = _one(trainer, ComputeMeter), _one(trainer, ValidationHistory)
    stopper = _one(trainer, EarlyStopping)
    fired = stopper is not None and stopper.wait_count >= stopper.patience
    record["spent"] = {
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "examples": meter.examples if meter is not None else None,
        "loss_targets": meter.loss_targets if meter is not None else None,  # None: not counted
    }
    values = history.values if history is not None else []
    return {"budget": record, "converged": converged(values, budget.patience, fired)}
