"""Finding the runs of a folder and summarising them: every ``results.json`` (and ``failed.json``) below a
run's or a multirun's output folder, checked for what the report reads; and what a run was evaluated
under (``protocol_of``, ``samples_of``, ``fingerprint_of``, with the defaults of older results.json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmrec.errors import LlmrecError


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LlmrecError(f"{path} is not valid JSON ({error}); delete it and re-run that job") from None
    if not isinstance(value, dict):
        raise LlmrecError(f"{path} is not a JSON object; delete it and re-run that job")
    return value


def _check_result(result: dict[str, Any], path: Path) -> dict[str, Any]:
    """A results.json with what the report reads, else one error naming the file (never a KeyError)."""
    splits = (result.get("evaluation") or {}).get("splits") or ["test"]
    if "test" not in splits:
        raise LlmrecError(
            f"{path} is a re-evaluation on validation only (splits={','.join(splits)}): it has no test "
            f"figures to report; report the run's own folder, or evaluate again with splits=test"
        )
    ok = isinstance(result.get("model"), str) and isinstance(result.get("dataset"), str)
    metrics, timings = result.get("metrics"), result.get("timings")
    ok = ok and isinstance(metrics, dict) and isinstance(metrics.get("test"), dict)
    ok = ok and isinstance(timings, dict) and isinstance(timings.get("fit_seconds"), (int, float))
    if not ok:
        raise LlmrecError(
            f"{path} lacks model, dataset, metrics.test or timings.fit_seconds (not a llmrec results.json?); "
            f"delete it and re-run that job"
        )
    return result


def _inside_another_run(folder: Path, directory: Path) -> bool:
    """A run kept inside another run's folder (E4SRec's stage-1 SASRec in ``stage1_sasrec/``) is part of
    that run, not one more run of its own model."""
    for parent in folder.parents:
        if parent != directory and directory not in parent.parents:
            return False
        if (parent / "results.json").exists() or (parent / "failed.json").exists():
            return True
    return False


def unfinished(directory: Path) -> list[Path]:
    """Run folders below ``directory`` (a ``.hydra/`` inside) without results.json or failed.json: runs
    still going, or stopped before they could write either (killed, out of memory, the machine gone). The
    report lists them, so that a table over the finished runs never passes for the whole sweep."""
    folders = (hydra.parent for hydra in sorted(directory.rglob(".hydra")) if hydra.is_dir())
    return [
        folder
        for folder in folders
        if not (folder / "results.json").exists()
        and not (folder / "failed.json").exists()
        and not _inside_another_run(folder, directory)
    ]


def collect(directory: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(finished runs, failed jobs) found below ``directory``."""
    if not directory.is_dir():
        raise LlmrecError(f"{directory} is not a folder; give the output folder of a run or a multirun")
    runs, failed = [], []
    for path in sorted(directory.rglob("results.json")):
        if not _inside_another_run(path.parent, directory):
            runs.append(_check_result(_read_json(path), path) | {"path": str(path.parent)})
    for path in sorted(directory.rglob("failed.json")):
        if not _inside_another_run(path.parent, directory):
            failed.append(_read_json(path) | {"path": str(path.parent)})
    if not runs and not failed:
        running = unfinished(directory)
        hint = f" ({len(running)} run(s) there unfinished, e.g. {running[0]})" if running else ""
        raise LlmrecError(
            f"no results.json below {directory}{hint}; run `python -m llmrec` first (or let it finish), "
            f"then report its folder"
        )
    return runs, failed


def check_metrics(runs: list[dict[str, Any]], metrics: Sequence[str]) -> None:
    """Every requested metric exists in some run: a misspelt --metrics name must not print NaN."""
    known = {name for r in runs for name in r["metrics"]["test"]}
    unknown = [m for m in metrics if m not in known]
    if runs and unknown:
        raise LlmrecError(f"unknown metric(s) {unknown} for --metrics; available: {sorted(known)}")


TRAIN_WINDOWS_SAMPLES = {"all": "tiled", "prefixes": "prefixes", "recent": "last_n"}


def _config(result: dict[str, Any], *keys: str) -> Any:
    node: Any = result.get("config") or {}
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def protocol_of(result: dict[str, Any]) -> dict[str, Any]:
    """The run's protocol: name + parameters. A results.json written before protocols were recorded means
    leave-one-out, unmasked when its ``config.eval.mask_history`` was false."""
    recorded = result.get("protocol")
    if isinstance(recorded, dict) and recorded.get("name"):
        return recorded
    masked = _config(result, "eval", "mask_history") is not False
    return {"name": "loo" if masked else "loo_unmasked", "mask_history": masked}


def samples_of(result: dict[str, Any]) -> dict[str, Any]:
    """The run's training-sample schema: name + parameters. Older results.json: from
    ``config.datamodule.train_windows`` (all -> tiled, prefixes -> prefixes, recent -> last_n)."""
    recorded = result.get("samples")
    if isinstance(recorded, dict) and recorded.get("name"):
        return recorded
    windows = _config(result, "datamodule", "train_windows") or "all"
    return {"name": TRAIN_WINDOWS_SAMPLES.get(str(windows), str(windows))}


def fingerprint_of(result: dict[str, Any]) -> str | None:
    return (result.get("data") or {}).get("fingerprint")
