"""The report's rows: runs grouped by honest model label x dataset x protocol x sample schema
(``group_runs``), each row's runs checked to be comparable (``check_comparable``: same data, protocol and
sample schema with their parameters), and the mean ± std over seeds per row (``summarize``)."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from llmrec.errors import LlmrecError
from llmrec.report.names import model_label
from llmrec.report.runs import fingerprint_of, protocol_of, samples_of


def _settings(result: dict[str, Any]) -> dict[str, Any]:
    """What must agree between runs that are averaged or compared, as flat ``what.key`` -> value."""
    flat: dict[str, Any] = {"data.fingerprint": fingerprint_of(result)}
    for what, spec in (("protocol", protocol_of(result)), ("samples", samples_of(result))):
        flat |= {f"{what}.{key}": json.dumps(value, sort_keys=True) for key, value in spec.items()}
    return {key: value for key, value in flat.items() if value is not None}


def check_comparable(runs: list[dict[str, Any]], what: str) -> None:
    """Runs of one row or one comparison share the data (``data.fingerprint`` within a dataset name), the
    protocol and the sample schema with their parameters. A key a run does not record (an older
    results.json) is unknown, not a mismatch."""
    settings = [_settings(r) for r in runs]
    for key in sorted({k for s in settings for k in s}):
        values = {s[key] for s in settings if key in s}
        if len(values) > 1:
            listed = "; ".join(
                f"{r.get('path', '?')}: {s[key]}" for r, s in zip(runs, settings, strict=True) if key in s
            )
            raise LlmrecError(
                f"{what} mixes runs with different {key} on dataset {runs[0]['dataset']!r} ({listed}); "
                f"compare runs of one protocol, sample schema and data version (report them from separate "
                f"folders)"
            )


def group_runs(runs: list[dict[str, Any]]) -> list[tuple[dict[str, str], list[dict[str, Any]]]]:
    """(row key, its runs), one row per honest model label x dataset x protocol x sample schema, sorted;
    the key holds ``model`` (the label), ``dataset``, ``protocol`` and ``samples`` (names). The runs of a
    row must be comparable (``check_comparable``)."""
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        key = (model_label(r), r["dataset"], str(protocol_of(r)["name"]), str(samples_of(r)["name"]))
        groups[key].append(r)
    rows = []
    for (model, dataset, protocol, samples), members in sorted(groups.items()):
        check_comparable(members, f"the row {model} on {dataset}")
        rows.append(({"model": model, "dataset": dataset, "protocol": protocol, "samples": samples}, members))
    return rows


def unconverged(runs: list[dict[str, Any]]) -> int:
    """How many runs stopped before converging (``converged: false``; true or null/absent do not count)."""
    return sum(r.get("converged") is False for r in runs)


def _stdev(values: list[float]) -> float:
    """Sample std over seeds; 0 for one seed, nan when a run lacks the metric (stdev crashes on nan)."""
    if any(math.isnan(v) for v in values):
        return float("nan")
    return statistics.stdev(values) if len(values) > 1 else 0.0


def mean_std_text(mean: float, std: float, seeds: int) -> str:
    """``0.0500 ± 0.0141`` over several seeds; one seed has no spread to show, so ``0.0500`` alone."""
    return f"{mean:.4f} ± {std:.4f}" if seeds > 1 else f"{mean:.4f}"


def partial_fit_time(runs: list[dict[str, Any]]) -> int:
    """Runs resumed from a checkpoint that kept no clock (``timings.fit_attempts`` null): their
    ``fit_seconds`` counts the last attempt only, so a mean over them is a lower bound."""
    return sum("fit_attempts" in r["timings"] and r["timings"]["fit_attempts"] is None for r in runs)


def fit_seconds_text(row: dict[str, Any]) -> str:
    """A row's mean fit seconds, ``≥`` where a seed's time is partial (``partial_fit_time``)."""
    return ("≥" if row.get("fit_partial") else "") + f"{row['fit_seconds']:.1f}"


def summarize(runs: list[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per (model label, dataset, protocol, samples): mean and std over seeds of each test metric,
    fit time, and how many of its runs stopped before converging."""
    rows = []
    for key, members in group_runs(runs):
        row: dict[str, Any] = key | {"seeds": len(members)}
        for name in (*metrics, "fit_seconds"):
            values = [
                r["timings"]["fit_seconds"]
                if name == "fit_seconds"
                else r["metrics"]["test"].get(name, float("nan"))
                for r in members
            ]
            row[name] = statistics.fmean(values)
            row[f"{name}_std"] = _stdev(values)
        row["unconverged"] = unconverged(members)
        row["fit_partial"] = partial_fit_time(members)
        rows.append(row)
    return rows
