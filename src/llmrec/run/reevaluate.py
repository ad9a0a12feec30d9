"""A finished run brought back from its folder, and evaluated again with other ``eval`` settings.

:func:`restore` reads ``results.json`` (the resolved config, the dataset fingerprint, the checkpoint it
tested), rebuilds the data and the model from that config and loads the checkpoint. :func:`reevaluate`
(``python -m llmrec.evaluate``) then runs validation and test again with ``eval.*`` changed (other
cut-offs, ``eval.mask_history=false`` for the unmasked figure, ``eval.export_topk``) and writes
``<run>/evaluations/<name>/results.json``, never over the run's own ``results.json``. The run's protocol is
kept (its split; for ``sampled`` the very candidates it was tested on, checked by their checksum) unless
``protocol=`` switches it within the split the model trained on (loo, loo_unmasked and sampled share one:
``protocol=sampled`` gives a loo run the 1 + 99 figure without training again);
``eval.mask_history=false`` turns ``loo`` into ``loo_unmasked`` (the same split, history not masked).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from llmrec.errors import ConfigError, LlmrecError
from llmrec.evaluation.evaluator import check_cutoffs
from llmrec.evaluation.export import check_export_k, write_topk
from llmrec.models.base import SequentialRecommender
from llmrec.run.eval_overrides import apply_eval_overrides
from llmrec.run.eval_pass import SPLITS, eval_timings, evaluate
from llmrec.run.instantiate import check_seed
from llmrec.run.pipeline import PreparedData, assemble_results, build_trainer, prepare_data, setup_model
from llmrec.run.results import RESULTS_FILE, code_version, write_results

EVALUATIONS = "evaluations"
ALLOW_CODE_CHANGE = "allow_code_change"  # the flag that accepts a run trained by another code version
TRAINING_TIMINGS = ("fit_seconds", "fit_attempts", "epochs")


@dataclass
class Restored:
    """A finished run rebuilt from its folder: config, data, model with the tested checkpoint loaded."""

    run_dir: Path
    results: dict[str, Any]
    config: DictConfig
    prepared: PreparedData
    model: SequentialRecommender
    checkpoint: Path | None


def read_run_results(run_dir: Path) -> dict[str, Any]:
    """The run's ``results.json``, or one error saying why this folder is not a finished run."""
    if not run_dir.is_dir():
        raise ConfigError(f"run_dir={run_dir} is not a folder; give the output folder of a finished run")
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        raise LlmrecError(
            f"{run_dir} holds no {RESULTS_FILE}: not a finished run (still training, interrupted, or failed: "
            f"see failed.json); finish it with resume=true or choose the folder of a finished run"
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LlmrecError(f"{path} is not valid JSON ({error}); the run's results are damaged") from None
    if not isinstance(results, dict) or not isinstance(results.get("config"), dict):
        raise LlmrecError(f"{path} holds no resolved config (not a llmrec results.json?)")
    return results


def find_checkpoint(run_dir: Path, results: dict[str, Any]) -> Path | None:
    """The checkpoint the run tested, None if it had none. One saved inside the run's folder is looked
    for inside ``run_dir`` (a moved or copied run uses its own file); one kept elsewhere where recorded."""
    recorded = results.get("best_checkpoint")
    if not recorded:
        return None
    trained_in = Path(str((results["config"].get("paths") or {}).get("output_dir", "")))
    try:
        path = run_dir / Path(recorded).relative_to(trained_in)
    except ValueError:
        path = Path(recorded)
    if not path.is_file():
        raise LlmrecError(
            f"{run_dir} has no checkpoint: {path} (the checkpoint recorded in {RESULTS_FILE}) is missing; "
            f"re-run the training to evaluate this model again"
        )
    return path


def restore(run_dir: Path, overrides: list[str] | None = None) -> Restored:
    """Rebuild a finished run (``overrides``: ``eval.*`` changes) with its tested checkpoint loaded."""
    run_dir = Path(run_dir)
    results = read_run_results(run_dir)
    checkpoint = find_checkpoint(run_dir, results)
    cfg = OmegaConf.create(results["config"])
    apply_eval_overrides(cfg, overrides or [])
    ks = check_cutoffs(list(cfg.eval.ks) if OmegaConf.is_list(cfg.eval.ks) else [cfg.eval.ks])
    check_export_k(cfg.eval.get("export_topk"))
    prepared = prepare_data(cfg)
    trained_on = (results.get("data") or {}).get("fingerprint")
    if trained_on != prepared.fingerprint:
        raise LlmrecError(
            f"the data changed since {run_dir} was trained (dataset fingerprint {prepared.fingerprint} now, "
            f"{trained_on} then); restore the dataset files it used or train again"
        )
    if not any(override.startswith("protocol") for override in overrides or []):
        _check_same_candidates(results, prepared, run_dir)
    model = setup_model(cfg, prepared, ks)
    if model.requires_training and checkpoint is None:
        raise LlmrecError(f"{run_dir} has no checkpoint of its trained model; re-run the training")
    model.configure_model()  # LLM models build their frozen backbone here; checkpoints hold the rest
    if checkpoint is not None:
        model.load_state_dict(_checkpoint_state(checkpoint))
    model.eval()
    return Restored(run_dir, results, cfg, prepared, model, checkpoint)


def _check_same_candidates(results: dict[str, Any], prepared: PreparedData, run_dir: Path) -> None:
    """A sampled run is evaluated again against the very candidates it was tested on."""
    then = (results.get("protocol") or {}).get("candidates_sha256")
    now = prepared.protocol.params.get("candidates_sha256") if prepared.protocol else None
    if then is not None and now != then:
        raise LlmrecError(
            f"the sampled candidates of {run_dir} cannot be rebuilt (checksum {now} now, {then} then): the "
            f"sample file or the stored candidates changed; restore them or train again"
        )


def _checkpoint_state(path: Path) -> dict[str, Any]:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file: any unpickling error means "unusable"
        raise LlmrecError(
            f"{path} cannot be read ({type(error).__name__}): the checkpoint is damaged; re-run the training"
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise LlmrecError(f"{path} is not a llmrec checkpoint (no state_dict); re-run the training")
    return checkpoint["state_dict"]


def check_code_version(results: dict[str, Any], allow_code_change: bool) -> dict[str, Any]:
    """The current code version; refuses a run trained by another one unless ``allow_code_change``."""
    now, then = code_version(), results.get("code_version") or {}
    same = now.get("package") == then.get("package")
    if now.get("commit") and then.get("commit"):
        same = same and now["commit"] == then["commit"]
    if not same and not allow_code_change:
        raise ConfigError(
            f"the run was trained by another code version ({then.get('package')} {then.get('commit')}, now "
            f"{now.get('package')} {now.get('commit')}); pass {ALLOW_CODE_CHANGE}=true to evaluate it anyway"
        )
    return now


def _evaluation_dir(run_dir: Path, name: str | None) -> Path:
    base = run_dir / EVALUATIONS
    if name is not None:
        if not name or "/" in name or name.startswith("."):
            raise ConfigError(f"name={name!r} must be a plain folder name, e.g. name=unmasked")
        if (base / name).exists():
            raise ConfigError(
                f"{base / name} exists; choose another name= (evaluations are never overwritten)"
            )
        return base / name
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    folder, number = base / stamp, 1
    while folder.exists():
        folder, number = base / f"{stamp}_{number}", number + 1
    return folder


def check_splits(splits: tuple[str, ...]) -> tuple[str, ...]:
    """The splits a re-evaluation runs, in the run's order; one error for an unknown or empty choice."""
    unknown = [split for split in splits if split not in SPLITS]
    if unknown or not splits:
        raise ConfigError(f"splits={','.join(splits)} names no split a run evaluates; choose from val,test")
    return tuple(split for split in SPLITS if split in splits)


def reevaluate(
    run_dir: Path,
    overrides: list[str],
    name: str | None = None,
    allow_code_change: bool = False,
    splits: tuple[str, ...] = SPLITS,
) -> tuple[dict[str, Any], Path]:
    """Evaluate a finished run's checkpoint again with ``eval.*`` overrides, on ``splits`` (validation
    alone where a setting is being chosen); returns (results, folder)."""
    run_dir = Path(run_dir)
    splits = check_splits(splits)  # before any data is read
    version = check_code_version(read_run_results(run_dir), allow_code_change)
    folder = _evaluation_dir(run_dir, name)
    restored = restore(run_dir, overrides)
    cfg = restored.config
    export_k = check_export_k(cfg.eval.get("export_topk"))
    if export_k is not None and "test" not in splits:
        raise ConfigError("eval.export_topk keeps the test users' lists: give splits=test or splits=val,test")
    pl.seed_everything(check_seed(cfg.seed), workers=True, verbose=False)
    trainer = build_trainer(cfg, folder, None, with_loggers=False)
    scores = evaluate(restored.model, trainer, restored.prepared.datamodule, export_k, splits)
    checkpoint = str(restored.checkpoint) if restored.checkpoint else None
    results = assemble_results(
        cfg, restored.prepared, restored.model, scores, eval_timings(scores), checkpoint
    )
    _keep_splits(results, splits)
    results["code_version"] = version
    # the training was not re-run: its budget, what it spent, its clock and whether it converged are the
    # run's (so a re-evaluation reports like the run it re-scores)
    results |= {key: restored.results[key] for key in ("budget", "converged") if key in restored.results}
    trained = restored.results.get("timings") or {}
    results["timings"] |= {key: trained[key] for key in TRAINING_TIMINGS if key in trained}
    results["evaluation"] = {
        "run_dir": str(run_dir),
        "overrides": list(overrides),
        "eval": OmegaConf.to_container(cfg.eval, resolve=True),
        "trained_code_version": restored.results.get("code_version"),
        "allow_code_change": allow_code_change,
        "splits": list(splits),
    }
    if scores.top is not None:
        results["topk_export"] = write_topk(folder, *scores.top, restored.prepared.data)
    write_results(folder, results)
    return results, folder


def _keep_splits(results: dict[str, Any], splits: tuple[str, ...]) -> None:
    """Drop what a split left out did not measure: no empty metrics or zero seconds that read as figures."""
    timings = results["timings"]
    if "val" not in splits:
        del results["metrics"]["val"], timings["val_seconds"]
    if "test" not in splits:
        del results["metrics"]["test"], results["per_user"]
        del timings["test_seconds"], timings["test_users_per_second"]
