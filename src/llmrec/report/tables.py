"""The report's tables as text: one run's metrics (printed after a run), the mean ± std table of a folder
(Markdown and CSV) and the efficiency table; the comparisons are in :mod:`llmrec.report.significance`.
Rows are plain dicts, as written to CSV and Markdown; every row names the honest model label, the
dataset, the protocol and the sample schema."""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmrec.report.rows import fit_seconds_text, group_runs, mean_std_text, partial_fit_time, unconverged


def _metric_order(name: str) -> tuple[str, int]:
    """``ndcg_10`` sorts as (ndcg, 10); names without a cutoff (``exact_match_share``) as (name, 0)."""
    stem, _, cutoff = name.rpartition("_")
    return (stem, int(cutoff)) if cutoff.isdigit() else (name, 0)


def format_run_table(results: dict[str, Any]) -> str:
    """A plain-text table of one run's validation and test metrics (``-``: a split it did not evaluate)."""
    test, val = results["metrics"].get("test", {}), results["metrics"].get("val", {})
    names = sorted({*test, *val}, key=_metric_order)
    lines = [
        f"{results['model']} on {results['dataset']} (seed {results['seed']})",
        f"{'metric':<14}{'val':>10}{'test':>10}",
    ]
    lines += [f"{name:<14}{_cell(val, name)}{_cell(test, name)}" for name in names]
    return "\n".join(lines)


def _cell(metrics: dict[str, float], name: str) -> str:
    return f"{metrics[name]:>10.4f}" if name in metrics else f"{'-':>10}"


def _cell_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["dataset"], row["protocol"], row["samples"]


# a row's flag -> the mark the table shows and the footnote that explains it
FOOTNOTES = {
    "unconverged": (
        "†",
        "{n} of {seeds} seed(s) stopped before converging (converged: false in results.json)",
    ),
    "fit_partial": (
        "≥",
        "{n} seed(s) resumed from a checkpoint that kept no clock; fit s counts their last attempt only "
        "(a lower bound)",
    ),
}


def _footnotes(rows: list[dict[str, Any]], flags: Sequence[str]) -> str:
    """The footnotes of the ``flags`` set in ``rows``, after the blank line that ends the table."""
    notes = [
        f"{mark} {r['model']} on {r['dataset']}: {text.format(n=r[flag], seeds=r.get('seeds'))}\n"
        for flag in flags
        for mark, text in [FOOTNOTES[flag]]
        for r in rows
        if r.get(flag)
    ]
    return "\n" + "".join(notes) if notes else ""


def to_markdown(rows: list[dict[str, Any]], metrics: Sequence[str]) -> str:
    """Mean ± std per row; the best mean of each column among rows of one dataset, protocol and sample
    schema is bold; † marks rows with a run that stopped before converging, ≥ a fit time that misses a resumed
    seed's earlier attempts (both explained under the table)."""
    best = {
        (m, _cell_key(r)): max(o[m] for o in rows if _cell_key(o) == _cell_key(r))
        for m in metrics
        for r in rows
    }
    header = ["model", "dataset", "protocol", "samples", "seeds", *[f"test/{m}" for m in metrics], "fit s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        mark = " †" if row.get("unconverged") else ""
        cells = [row["model"] + mark, row["dataset"], row["protocol"], row["samples"], str(row["seeds"])]
        for m in metrics:
            text = mean_std_text(row[m], row[f"{m}_std"], row["seeds"])
            cells.append(f"**{text}**" if row[m] == best[(m, _cell_key(row))] else text)
        cells.append(fit_seconds_text(row))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n" + _footnotes(rows, ["unconverged", "fit_partial"])


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _mean(values: Sequence[float | None]) -> float:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else float("nan")


def _spent(members: list[dict[str, Any]], name: str) -> float | None:
    """Mean over seeds of ``budget.spent[name]`` (compute: epochs, examples seen, loss targets); None unless
    every seed recorded it, so a mean never stands for fewer seeds than its row."""
    values = [((m.get("budget") or {}).get("spent") or {}).get(name) for m in members]
    return None if any(v is None for v in values) else statistics.fmean(values)


def efficiency_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per row (label, dataset, protocol, samples), means over seeds: parameters, the compute spent
    training (epochs, the schema's examples seen, the targets the loss scored), fit time, test time,
    users/s."""
    rows = []
    for key, members in group_runs(runs):
        timings = [m["timings"] for m in members]
        parameters = members[0].get("parameters") or {}
        rows.append(
            key
            | {
                "trainable_params": parameters.get("trainable"),
                "total_params": parameters.get("total"),
                "epochs": _spent(members, "epochs"),
                "examples": _spent(members, "examples"),
                "loss_targets": _spent(members, "loss_targets"),
                "fit_seconds": _mean([t.get("fit_seconds") for t in timings]),
                "test_seconds": _mean([t.get("test_seconds") for t in timings]),
                "test_users_per_second": _mean([t.get("test_users_per_second") for t in timings]),
                "unconverged": unconverged(members),
                "fit_partial": partial_fit_time(members),
            }
        )
    return rows


def _count(value: int | None) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _amount(value: float | None) -> str:
    """A mean count over seeds, about three significant figures (``?``: not recorded by every seed)."""
    if value is None:
        return "?"
    if value < 100:
        return f"{value:.3g}"
    if value < 10_000:
        return f"{value:,.0f}"
    return f"{value / 1e3:.3g}k" if value < 1e6 else f"{value / 1e6:.3g}M"


def efficiency_markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "\nEfficiency (mean over seeds; examples: the schema's targets seen, loss targets: those the loss "
        "scored):\n",
        "| model | dataset | protocol | samples | trainable params | total params | epochs | examples | "
        "loss targets | fit s | test s | test users/s |",
        "|" + "---|" * 12,
    ]
    for r in rows:
        mark = " †" if r["unconverged"] else ""
        lines.append(
            f"| {r['model']}{mark} | {r['dataset']} | {r['protocol']} | {r['samples']} | "
            f"{_count(r['trainable_params'])} | {_count(r['total_params'])} | {_amount(r['epochs'])} | "
            f"{_amount(r['examples'])} | {_amount(r['loss_targets'])} | {fit_seconds_text(r)} | "
            f"{r['test_seconds']:.2f} | {r['test_users_per_second']:.0f} |"
        )
    return "\n".join(lines) + "\n" + _footnotes(rows, ["fit_partial"])
