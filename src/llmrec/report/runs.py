"""Finding the runs of a folder and summarising them: every ``results.json`` (and ``failed.json``) below a
run's or a multirun's output folder, checked for what the report reads, and the mean ± std over seeds per
(model, dataset)."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
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
        raise LlmrecError(
            f"no results.json below {directory}; run `python -m llmrec` first, then report its folder"
        )
    return runs, failed


def check_metrics(runs: list[dict[str, Any]], metrics: Sequence[str]) -> None:
    """Every requested metric exists in some run: a misspelt --metrics name must not print NaN."""
    known = {name for r in runs for name in r["metrics"]["test"]}
    unknown = [m for m in metrics if m not in known]
    if runs and unknown:
        raise LlmrecError(f"unknown metric(s) {unknown} for --metrics; available: {sorted(known)}")


def group_by_model_and_dataset(runs: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(model, dataset, its runs), sorted by model then dataset: the rows of every per-model table."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for result in runs:
        groups[(result["model"], result["dataset"])].append(result)
    return [(model, dataset, members) for (model, dataset), members in sorted(groups.items())]


def _stdev(values: list[float]) -> float:
    """Sample std over seeds; 0 for one seed, nan when a run lacks the metric (stdev crashes on nan)."""
    if any(math.isnan(v) for v in values):
        return float("nan")
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(runs: list[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per (model, dataset): mean and std over seeds of each test metric, plus fit time."""
    rows = []
    for model, dataset, members in group_by_model_and_dataset(runs):
        row: dict[str, Any] = {"model": model, "dataset": dataset, "seeds": len(members)}
        for name in (*metrics, "fit_seconds"):
            values = [
                r["timings"]["fit_seconds"]
                if name == "fit_seconds"
                else r["metrics"]["test"].get(name, float("nan"))
                for r in members
            ]
            row[name] = statistics.fmean(values)
            row[f"{name}_std"] = _stdev(values)
        rows.append(row)
    return rows
