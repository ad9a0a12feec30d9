"""Training callbacks for reliability: stop on a non-finite loss, carry RNG state and the fit's time across a
resume, stamp checkpoints with what they were trained on (so a resume never mixes runs), keep ``last.ckpt``
at the last validation; and an epoch clock for benchmarks that read "wall time to reach a validation score"
off the metrics file."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn
from torch import Tensor

from llmrec.errors import LlmrecError


class NonFiniteLossError(LlmrecError):
    """The training loss became NaN or inf; the run stops before the bad step changes the weights."""


def _last_checkpoint(trainer: pl.Trainer) -> str | None:
    for callback in trainer.checkpoint_callbacks:
        path = getattr(callback, "last_model_path", "") or getattr(callback, "best_model_path", "")
        if path and Path(path).is_file():
            return str(path)
    return None


class FiniteLossGuard(pl.Callback):
    """Raises :class:`NonFiniteLossError` before backward when the loss is NaN or inf, so the weights of
    the last good step and the checkpoints already on disk are kept."""

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: Tensor) -> None:
        value = float(loss.detach().float().cpu())
        if math.isfinite(value):
            return
        last = _last_checkpoint(trainer)
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
        raise NonFiniteLossError(
            f"training loss is {value} at step {trainer.global_step} (epoch {trainer.current_epoch}); "
            f"the run stopped and {kept}. Lower model.lr or set trainer.gradient_clip_val=1.0"
        )


def rng_state() -> dict[str, Any]:
    """Every RNG the training uses, as types ``torch.load(weights_only=True)`` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, cached],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class RngState(pl.Callback):
    """Saves the RNG states in every checkpoint (written after validation, when the next draw is the next
    epoch's batch order) and restores them as soon as Lightning restores the callbacks on resume, before
    it builds the training iterator (its sanity check runs in ``isolate_rng``), so a resumed run samples
    the same batches and dropout masks as an uninterrupted one."""

    def state_dict(self) -> dict[str, Any]:
        return {"rng": rng_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "rng" in state_dict:
            set_rng_state(state_dict["rng"])


class RunStamp(pl.Callback):
    """Writes ``stamp`` (dataset fingerprint, model, sizes) into every checkpoint under ``llmrec``."""

    def __init__(self, stamp: dict[str, Any]) -> None:
        self.stamp = stamp

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint["llmrec"] = dict(self.stamp)


class FitClock(pl.Callback):
    """The fit's wall seconds across resumes. Each checkpoint stores the seconds spent up to it, and a run
    resumed from it counts on from there, so a resumed run's ``fit_seconds`` covers all its attempts (work
    lost after an attempt's last checkpoint is redone and counted once), not only the last one. ``carried``:
    a checkpoint's clock was loaded (one from before this clock has none)."""

    def __init__(self) -> None:
        self.before, self.attempts, self.carried = 0.0, 1, False
        self.start = time.perf_counter()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.start

    def state_dict(self) -> dict[str, Any]:
        return {"fit_seconds": self.seconds(), "attempts": self.attempts}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.before = float(state_dict["fit_seconds"])
        self.attempts = int(state_dict["attempts"]) + 1
        self.carried = True


def fit_time(trainer: pl.Trainer, this_attempt: float, resumed: bool) -> dict[str, Any]:
    """``fit_seconds`` over every attempt of a resumed run and ``fit_attempts``; a run resumed from a
    checkpoint that kept no clock has only its last attempt's seconds, and ``fit_attempts`` None."""
    clock = next((c for c in trainer.callbacks if isinstance(c, FitClock)), None)
    if clock is None or (resumed and not clock.carried):
        return {"fit_seconds": this_attempt, "fit_attempts": None if resumed else 1}
    return {"fit_seconds": clock.seconds(), "fit_attempts": clock.attempts}


class EpochClock(pl.Callback):
    """Logs, at each validation: ``time/train_seconds`` (this epoch's training batches),
    ``time/val_seconds`` (the validation pass) and ``time/elapsed`` (since fit started, evaluation
    included). Add it with ``+callbacks.clock._target_=llmrec.run.callbacks.EpochClock``."""

    def __init__(self) -> None:
        self.fit_start = self.epoch_start = self.val_start = 0.0

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fit_start = time.perf_counter()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch_start = time.perf_counter()

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.val_start = time.perf_counter()

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        now = time.perf_counter()
        pl_module.log_dict(
            {
                "time/train_seconds": self.val_start - self.epoch_start,
                "time/val_seconds": now - self.val_start,
                "time/elapsed": now - self.fit_start,
            }
        )


class EveryValidationLastCheckpoint(pl.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` whose ``last.ckpt`` follows every validation, improved or not. Lightning writes
    ``last.ckpt`` only when it also saved a top-k checkpoint, so a run resumed after epochs without
    improvement restarted from its best epoch, with early stopping's patience counted afresh, instead of
    where it stopped."""

    @property
    def state_key(self) -> str:
        # Lightning keys a callback's saved state by its class name: keep ModelCheckpoint's, so that a run
        # checkpointed by Lightning's class resumes knowing its best checkpoint (else it starts afresh and
        # may select a worse epoch).
        return super().state_key.replace(type(self).__qualname__, "ModelCheckpoint", 1)

    @property
    def _legacy_state_key(self) -> Any:
        # The key this class saved under before state_key kept ModelCheckpoint's (2026-12-05 to 12-06);
        # Lightning restores from it when a checkpoint lacks state_key.
        return super().state_key

    def _save_last_anyway(self, trainer: pl.Trainer) -> None:
        saved_now = self._last_global_step_saved == trainer.global_step
        if self.save_last and not saved_now and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    # Lightning saves at the training epoch's end when every epoch validates, else at the validation's end.
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_anyway(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_anyway(trainer)
