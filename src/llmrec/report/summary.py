"""Tables and a chart from one run or a multirun folder: ``python -m llmrec.report DIR``.

Finds every ``results.json`` below DIR, groups runs by (model, dataset), and writes ``report.md``,
``report.csv`` (mean ± std over seeds, best per column in bold), ``report_efficiency.csv`` (parameters,
fit time, users/s), ``report.png`` (test metric bars with std error bars) and ``report_speed.png``
(accuracy vs inference time). With ``--baseline MODEL`` it adds a paired significance test of every model
against that baseline on per-user test metrics (``report_significance.csv``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmrec.errors import LlmrecError
from llmrec.report.tables import (
    efficiency_markdown,
    efficiency_rows,
    plot_accuracy_vs_time,
    significance_markdown,
    significance_rows,
)

DEFAULT_METRICS = ("hr_10", "ndcg_10", "mrr_10", "hr_20", "ndcg_20", "coverage_10")


def _metric_order(name: str) -> tuple[str, int]:
    """``ndcg_10`` sorts as (ndcg, 10); names without a cutoff (``exact_match_share``) as (name, 0)."""
    stem, _, cutoff = name.rpartition("_")
    return (stem, int(cutoff)) if cutoff.isdigit() else (name, 0)


def format_run_table(results: dict[str, Any]) -> str:
    """A plain-text table of one run's validation and test metrics."""
    test, val = results["metrics"]["test"], results["metrics"]["val"]
    names = sorted(test, key=_metric_order)
    lines = [
        f"{results['model']} on {results['dataset']} (seed {results['seed']})",
        f"{'metric':<14}{'val':>10}{'test':>10}",
    ]
    lines += [f"{name:<14}{val.get(name, float('nan')):>10.4f}{test[name]:>10.4f}" for name in names]
    return "\n".join(lines)


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


def check_metrics(runs: list[dict[str, Any]], metrics: Sequence[str]) -> None:
    """Every requested metric exists in some run: a misspelt --metrics name must not print NaN."""
    known = {name for r in runs for name in r["metrics"]["test"]}
    unknown = [m for m in metrics if m not in known]
    if runs and unknown:
        raise LlmrecError(f"unknown metric(s) {unknown} for --metrics; available: {sorted(known)}")


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


def _stdev(values: list[float]) -> float:
    """Sample std over seeds; 0 for one seed, nan when a run lacks the metric (stdev crashes on nan)."""
    if any(math.isnan(v) for v in values):
        return float("nan")
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(runs: list[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per (model, dataset): mean and std over seeds of each test metric, plus fit time."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for result in runs:
        groups[(result["model"], result["dataset"])].append(result)
    rows = []
    for (model, dataset), members in sorted(groups.items()):
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


def to_markdown(rows: list[dict[str, Any]], metrics: Sequence[str]) -> str:
    """Mean ± std per (model, dataset); the best mean of each column within a dataset is bold."""
    best = {
        (m, r["dataset"]): max(o[m] for o in rows if o["dataset"] == r["dataset"])
        for m in metrics
        for r in rows
    }
    header = ["model", "dataset", "seeds", *[f"test/{m}" for m in metrics], "fit s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["model"], row["dataset"], str(row["seeds"])]
        for m in metrics:
            text = f"{row[m]:.4f} ± {row[f'{m}_std']:.4f}"
            cells.append(f"**{text}**" if row[m] == best[(m, row["dataset"])] else text)
        cells.append(f"{row['fit_seconds']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(rows: list[dict[str, Any]], metrics: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['model']}\n{r['dataset']}" for r in rows]
    shown = [m for m in metrics if not m.startswith("coverage")][:4]
    width = 0.8 / max(len(shown), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(rows) * max(len(shown), 1) * 0.6), 4.0))
    for j, metric in enumerate(shown):
        xs = [i + j * width for i in range(len(rows))]
        ax.bar(
            xs,
            [r[metric] for r in rows],
            width,
            yerr=[r[f"{metric}_std"] for r in rows],
            capsize=3,
            label=metric,
        )
    ax.set_xticks([i + width * (len(shown) - 1) / 2 for i in range(len(rows))], labels, fontsize=8)
    ax.set_ylabel("test metric (mean ± std over seeds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _extra_tables(
    directory: Path, runs: list[dict[str, Any]], rows: list[dict[str, Any]], baseline: str | None, metric: str
) -> str:
    efficiency = efficiency_rows(runs)
    write_csv(efficiency, directory / "report_efficiency.csv")
    plot_accuracy_vs_time(rows, efficiency, metric, directory / "report_speed.png")
    markdown = efficiency_markdown(efficiency)
    if baseline:
        significance = significance_rows(runs, baseline, metric)
        if significance:
            write_csv(significance, directory / "report_significance.csv")
        markdown += (
            significance_markdown(significance) or f"\nNo run shares a dataset and seed with {baseline}.\n"
        )
    return markdown


def write_report(
    directory: Path,
    metrics: Sequence[str] = DEFAULT_METRICS,
    baseline: str | None = None,
    significance_metric: str = "ndcg_10",
) -> str:
    """Write report.md/.csv/.png (+ efficiency, speed plot, significance vs ``baseline``); returns the
    Markdown."""
    runs, failed = collect(directory)
    metrics = [m for m in metrics if m not in DEFAULT_METRICS or any(m in r["metrics"]["test"] for r in runs)]
    check_metrics(runs, metrics)
    rows = summarize(runs, metrics)
    markdown = to_markdown(rows, metrics) if rows else "No finished runs.\n"
    if rows:
        write_csv(rows, directory / "report.csv")
        plot(rows, metrics, directory / "report.png")
        markdown += _extra_tables(directory, runs, rows, baseline, significance_metric)
    if failed:
        markdown += "\nFailed jobs:\n" + "".join(f"- {f['path']}: {f.get('error', '?')}\n" for f in failed)
    (directory / "report.md").write_text(markdown, encoding="utf-8")
    return markdown


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmrec.report", description=__doc__)
    parser.add_argument("directory", type=Path, help="a run's or a multirun's output folder")
    parser.add_argument(
        "--metrics", nargs="+", default=list(DEFAULT_METRICS), help="test metrics to tabulate"
    )
    parser.add_argument("--baseline", default=None, help="model to test every other model against")
    parser.add_argument(
        "--significance-metric",
        default="ndcg_10",
        help="per-user metric of the paired test (hr_K/ndcg_K/mrr_K)",
    )
    args = parser.parse_args(argv)
    try:
        markdown = write_report(args.directory, args.metrics, args.baseline, args.significance_metric)
    except LlmrecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(markdown)
    print(f"wrote {args.directory / 'report.md'} and the report_*.csv / *.png next to it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
