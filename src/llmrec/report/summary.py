"""Tables and a chart from one run or a multirun folder: ``python -m llmrec.report DIR``.

Finds every ``results.json`` below DIR, groups runs by (model, dataset), and writes ``report.md``,
``report.csv`` (mean ± std over seeds, best per column in bold), ``report_efficiency.csv`` (parameters,
fit time, users/s), ``report.png`` (test metric bars with std error bars) and ``report_speed.png``
(accuracy vs inference time). With ``--baseline MODEL`` it adds a paired significance test of every model
against that baseline on per-user test metrics (``report_significance.csv``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmrec.errors import LlmrecError
from llmrec.report.plots import plot_accuracy_vs_time, plot_metric_bars
from llmrec.report.runs import check_metrics, collect, summarize
from llmrec.report.tables import (
    efficiency_markdown,
    efficiency_rows,
    significance_markdown,
    significance_rows,
    to_markdown,
    write_csv,
)

DEFAULT_METRICS = ("hr_10", "ndcg_10", "mrr_10", "hr_20", "ndcg_20", "coverage_10")


def _extra_tables(
    directory: Path, runs: list[dict[str, Any]], rows: list[dict[str, Any]], baseline: str | None, metric: str
) -> str:
    """Efficiency table and speed chart, and with a ``baseline`` the significance table: files written
    next to report.md, their Markdown returned."""
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
        plot_metric_bars(rows, metrics, directory / "report.png")
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
