"""Interrupted runs, determinism, numerical safety, untrusted files and secrets (issue 9)."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch

from llmrec.errors import LlmrecError
from llmrec.evaluation.metrics import NonFiniteScoresError
from llmrec.models.sasrec import SASRec
from llmrec.run.callbacks import NonFiniteLossError
from llmrec.run.checkpoint_io import save_atomic
from llmrec.run.pipeline import run
from tests.bad_input_helpers import one_line
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]


def seeded_run(tmp_path: Path, out: str, *overrides: str) -> dict[str, Any]:
    """As ``python -m llmrec``: seed once, then run."""
    cfg = compose_config(["debug=tiny", *overrides], tmp_path)
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    return run(cfg, tmp_path / out)


def same_numbers(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["metrics"] == b["metrics"] and a["per_user"] == b["per_user"]


# --- interrupted runs --------------------------------------------------------------------------------
def test_resume_from_last_checkpoint_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    full = seeded_run(tmp_path, "full", "trainer.max_epochs=3")
    seeded_run(tmp_path, "cut", "trainer.max_epochs=1")  # stands for a run killed during epoch 2
    assert (tmp_path / "cut" / "checkpoints" / "last.ckpt").is_file()
    (tmp_path / "cut" / "results.json").unlink()  # killed before the end: no results yet
    clock = torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"][
        "FitClock"
    ]
    resumed = seeded_run(tmp_path, "cut", "trainer.max_epochs=3", "resume=true")
    assert resumed["timings"]["epochs"] == full["timings"]["epochs"]
    assert same_numbers(full, resumed), (full["metrics"]["test"], resumed["metrics"]["test"])
    # fit time counts both attempts: the first one's seconds up to its checkpoint, then the second
    assert full["timings"]["fit_attempts"] == 1 and resumed["timings"]["fit_attempts"] == 2
    assert clock["attempts"] == 1 and resumed["timings"]["fit_seconds"] > clock["fit_seconds"] > 0


def test_last_checkpoint_follows_every_validation_improved_or_not(tmp_path: Path) -> None:
    """Lightning alone writes last.ckpt only with a new best, so a resume would restart from the best epoch.
    Here the best checkpoint is the lowest validation score (mode=min), an early epoch of a learning model."""
    overrides = [
        "trainer.max_epochs=3",
        "callbacks.model_checkpoint.mode=min",
        "callbacks.early_stopping.patience=5",
    ]
    seeded_run(tmp_path, "run", *overrides)
    folder = tmp_path / "run" / "checkpoints"
    last, best = (
        torch.load(folder / name, weights_only=True)["epoch"] for name in ("last.ckpt", "best.ckpt")
    )
    assert last == 2 and best < 2


BUDGETS_THAT_STOP_EARLY = [["budget.patience=1"], ["budget/kind=examples", "budget.max_examples=40"]]


@pytest.mark.parametrize("budget", BUDGETS_THAT_STOP_EARLY)
def test_a_resumed_run_whose_budget_already_stopped_it_trains_no_further(
    tmp_path: Path, budget: list[str]
) -> None:
    """A run killed after its stop (early stopping fired, or its examples spent) but before its test resumes
    straight to the test: Lightning does not save ``should_stop``, so without a check it trains another
    epoch, which may move the selected checkpoint."""
    # min_delta 10: no validation after the first counts as an improvement, so patience 1 stops after epoch 1
    stop_early = ["trainer.max_epochs=6", "+callbacks.early_stopping.min_delta=10", *budget]
    full = seeded_run(tmp_path, "full", *stop_early)
    assert full["budget"]["spent"]["epochs"] < 6  # the budget, not max_epochs, stopped it
    seeded_run(tmp_path, "cut", *stop_early)
    (tmp_path / "cut" / "results.json").unlink()  # killed during the test
    resumed = seeded_run(tmp_path, "cut", *stop_early, "resume=true")
    assert resumed["budget"]["spent"] == full["budget"]["spent"]
    assert resumed["timings"]["epochs"] == full["timings"]["epochs"]
    assert resumed["converged"] == full["converged"]
    assert same_numbers(full, resumed)


def _rename_checkpoint_state(path: Path, old: str, new: str) -> None:
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["callbacks"] = {k.replace(old, new, 1): v for k, v in checkpoint["callbacks"].items()}
    torch.save(checkpoint, path)


@pytest.mark.parametrize("written_by", ["ModelCheckpoint", "EveryValidationLastCheckpoint"])
def test_a_run_checkpointed_by_an_earlier_class_resumes_knowing_its_best_epoch(
    tmp_path: Path, written_by: str
) -> None:
    """Runs started before EveryValidationLastCheckpoint hold Lightning's ModelCheckpoint state; runs of
    2026-12-05/06 hold it under EveryValidationLastCheckpoint's own name."""
    lowest = ["callbacks.model_checkpoint.mode=min", "callbacks.early_stopping.patience=5"]  # best: epoch 0
    full = seeded_run(tmp_path, "full", "trainer.max_epochs=3", *lowest)
    lightning = "callbacks.model_checkpoint._target_=pytorch_lightning.callbacks.ModelCheckpoint"
    seeded_run(tmp_path, "cut", "trainer.max_epochs=1", *lowest, lightning)
    (tmp_path / "cut" / "results.json").unlink()
    _rename_checkpoint_state(
        tmp_path / "cut" / "checkpoints" / "last.ckpt", "ModelCheckpoint{", f"{written_by}{{"
    )
    resumed = seeded_run(tmp_path, "cut", "trainer.max_epochs=3", *lowest, "resume=true")
    assert Path(resumed["best_checkpoint"]).name == "best.ckpt"  # the same file, not a fresh best-v1.ckpt
    assert same_numbers(full, resumed)


def test_a_resume_continues_from_the_furthest_last_checkpoint(tmp_path: Path) -> None:
    """A resume that lost its checkpoint callback's state (2026-12-05/06) wrote last-v1.ckpt beside a stale
    last.ckpt; the next resume must continue from the later one."""
    from omegaconf import OmegaConf

    from llmrec.run.resume import find_resume_checkpoint

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    stamp = {"dataset": "tiny-abc", "model": "m"}
    for name, step in (("last.ckpt", 40), ("last-v1.ckpt", 90), ("last-best.ckpt", 99)):
        torch.save({"state_dict": {}, "llmrec": stamp, "global_step": step}, folder / name)
    found = find_resume_checkpoint(OmegaConf.create({"resume": True}), tmp_path, stamp)
    assert found is not None and Path(found).name == "last-v1.ckpt"  # not another file named last*
    (folder / "last-v1.ckpt").unlink()
    assert (
        Path(str(find_resume_checkpoint(OmegaConf.create({"resume": True}), tmp_path, stamp))).name
        == "last.ckpt"
    )


def test_a_resume_that_would_drop_a_callbacks_state_is_refused(tmp_path: Path) -> None:
    seeded_run(tmp_path, "cut", "trainer.max_epochs=1")
    (tmp_path / "cut" / "results.json").unlink()
    last = tmp_path / "cut" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    checkpoint["callbacks"]["OtherCheckpoint{'monitor': 'val/hr_10'}"] = {"best_model_score": 0.1}
    checkpoint["callbacks"]["RetiredGuard"] = {}  # a callback without state: nothing to lose
    torch.save(checkpoint, last)
    with pytest.raises(LlmrecError, match=r"callbacks this run does not have: \[.OtherCheckpoint") as error:
        seeded_run(tmp_path, "cut", "trainer.max_epochs=2", "resume=true")
    assert "RetiredGuard" not in str(error.value)


def test_a_resume_from_a_checkpoint_without_a_clock_says_its_fit_time_is_partial(tmp_path: Path) -> None:
    seeded_run(tmp_path, "cut", "trainer.max_epochs=1")
    (tmp_path / "cut" / "results.json").unlink()
    last = tmp_path / "cut" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    del checkpoint["callbacks"]["FitClock"]  # as written before the clock existed
    torch.save(checkpoint, last)
    resumed = seeded_run(tmp_path, "cut", "trainer.max_epochs=2", "resume=true")
    assert resumed["timings"]["fit_attempts"] is None and resumed["timings"]["fit_seconds"] > 0


def _llmrec(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "WANDB_API_KEY": "secret-xyz"}
    return subprocess.Popen(
        [sys.executable, "-m", "llmrec", *args], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_the_same_test_metrics(tmp_path: Path) -> None:
    common = ["debug=tiny", "trainer.max_epochs=12", "callbacks.early_stopping.patience=100"]
    common += [f"paths.cache_dir={tmp_path / 'cache'}"]
    full = _llmrec(*common, f"hydra.run.dir={tmp_path / 'full'}", cwd=tmp_path)
    assert full.wait(timeout=300) == 0, full.stderr.read() if full.stderr else ""
    cut = tmp_path / "cut"
    proc = _llmrec(*common, f"hydra.run.dir={cut}", cwd=tmp_path)
    deadline = time.time() + 240
    while not (cut / "checkpoints" / "last.ckpt").exists() and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (cut / "results.json").exists(), "the run finished before the kill: make it longer"
    again = _llmrec(*common, f"hydra.run.dir={cut}", "resume=true", cwd=tmp_path)
    assert again.wait(timeout=300) == 0, again.stderr.read() if again.stderr else ""
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("full", "cut"))
    print(
        "uninterrupted test:",
        a["metrics"]["test"]["ndcg_10"],
        "resumed test:",
        b["metrics"]["test"]["ndcg_10"],
    )
    assert same_numbers(a, b)
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and b"secret-xyz" in p.read_bytes()]
    assert not leaked, f"W&B key written to {leaked}"


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.ckpt"
    save_atomic({"state_dict": {"w": torch.ones(2)}}, path)
    before = path.read_bytes()

    def killed(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # the process dies between writing the temp file and the rename

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        save_atomic({"state_dict": {"w": torch.zeros(1000)}}, path)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


def test_trainer_uses_the_atomic_checkpoint_io(tmp_path: Path) -> None:
    cfg = compose_config(["debug=tiny"], tmp_path)
    assert cfg.trainer.plugins[0]._target_ == "llmrec.run.checkpoint_io.AtomicCheckpointIO"
    assert compose_config(["trainer=gpu"], tmp_path).trainer.plugins == cfg.trainer.plugins


# --- determinism -------------------------------------------------------------------------------------
def test_same_seed_same_numbers_and_deterministic_flag(tmp_path: Path) -> None:
    first = seeded_run(tmp_path, "a")
    second = seeded_run(tmp_path, "b")
    assert same_numbers(first, second)
    try:
        flagged = seeded_run(tmp_path, "c", "deterministic=true")
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
    assert same_numbers(first, flagged)


# --- numerical safety --------------------------------------------------------------------------------
def test_nan_loss_stops_with_one_message_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = SASRec.loss
    calls = {"n": 0}

    def loss_going_nan(self: SASRec, batch: Any) -> torch.Tensor:
        calls["n"] += 1
        value = original(self, batch)
        return value * math.nan if calls["n"] > 1 else value

    monkeypatch.setattr(SASRec, "loss", loss_going_nan)
    cfg = compose_config(["debug=tiny", "trainer.max_epochs=3"], tmp_path)
    with pytest.raises(NonFiniteLossError) as info:
        run(cfg, tmp_path / "out")
    one_line(str(info.value), "nan", "step 1", "last.ckpt", "model.lr", "gradient_clip_val")
    state = torch.load(tmp_path / "out" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.isfinite(t).all() for t in state.values())
    assert not (tmp_path / "out" / "results.json").exists()


def test_nan_scores_reach_the_user_as_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SASRec, "forward", lambda self, seq: torch.full((seq.shape[0], 41), math.nan))
    with pytest.raises(NonFiniteScoresError) as info:
        run(compose_config(["debug=tiny"], tmp_path), tmp_path / "out")
    assert isinstance(info.value, LlmrecError)
    one_line(str(info.value), "NaN scores", "learning rate")


# --- untrusted files and secrets ----------------------------------------------------------------------
def _sources() -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p in sorted((ROOT / "src").rglob("*.py"))]


def test_every_torch_load_is_weights_only() -> None:
    calls = [(p, line) for p, text in _sources() for line in text.splitlines() if "torch.load(" in line]
    assert calls, "expected at least one torch.load"
    bad = [(p.name, line) for p, line in calls if "weights_only=True" not in line]
    assert not bad, bad


def _calls(pattern: str, line: str) -> bool:
    """``pattern`` used as a call, not as a method (``model.eval()``) or part of ``literal_eval(``."""
    if not pattern.endswith("("):
        return pattern in line
    return re.search(rf"(^|[^.\w]){re.escape(pattern)}", line) is not None


@pytest.mark.parametrize(
    "pattern", ["pickle.load", "allow_pickle=True", "trust_remote_code=True", "eval(", "exec(", "yaml.load("]
)
def test_no_unsafe_loading_in_src(pattern: str) -> None:
    hits = [
        (p.name, line.strip())
        for p, text in _sources()
        for line in text.splitlines()
        if _calls(pattern, line) and not line.strip().startswith("#")
    ]
    assert not hits, hits


def test_wandb_key_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "secret-xyz")
    monkeypatch.setenv("HF_TOKEN", "secret-xyz")
    seeded_run(tmp_path, "out", "trainer.max_epochs=1")
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert files and not [p for p in files if b"secret-xyz" in p.read_bytes()]
