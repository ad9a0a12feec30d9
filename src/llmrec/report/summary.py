"""Tables and a chart from one run or a multirun folder: ``python -m llmrec.report DIR``.

Finds every ``results.json`` below DIR, groups runs by (model, dataset), and writes ``report.md``,
``report.csv`` (mean ± std over seeds, best per column in bold), ``report_efficiency.csv`` (parameters,
fit time, users/s), ``report.png`` (test metric bars with std error bars) and ``report_speed.png``
(accuracy vs inference time). Rows are honest model labels (``e4srec[tiny-llama,random]``) x dataset x
protocol x sample schema; † marks rows with runs that stopped before converging. With ``--baseline MODEL``
it compares every model with that baseline, the seed as the unit (:mod:`llmrec.report.stats`), corrected
over all comparisons of the report, into ``report_significance.csv`` and the Markdown: a row needs
``--min-seeds`` seeds per model (default 3), else the report refuses.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec.cli import run_command
from llmrec.errors import LlmrecError
from llmrec.report.corrections import CORRECTIONS
from llmrec.report.plots import plot_accuracy_vs_time, plot_metric_bars
from llmrec.report.rows import summarize
from llmrec.report.runs import check_metrics, collect, unfinished
from llmrec.report.significance import significance_markdown, significance_rows
from llmrec.report.tables import efficiency_markdown, efficiency_rows, to_markdown, write_csv

DEFAULT_METRICS = ("hr_10", "ndcg_10", "mrr_10", "hr_20", "ndcg_20", "coverage_10")
# what a generative model run with compare_decodes logs (models/tiger/gap.py): beam against exact ranking
DECODE_GAP_METRICS = ("beam_exact_recall_at_k", "beam_ndcg_10", "exact_ndcg_10", "beam_hr_10", "exact_hr_10")


@dataclass(frozen=True)
class Comparison:
    """What ``--baseline`` asks: every model against ``baseline`` on per-user test ``metrics``."""

    baseline: str
    metrics: tuple[str, ...] = ("ndcg_10",)
    min_seeds: int = 3
    correction: str = "holm"
    alpha: float = 0.05


def _significance_rows(runs: list[dict[str, Any]], comparison: Comparison) -> list[dict[str, Any]]:
    return significance_rows(
        runs,
        comparison.baseline,
        list(comparison.metrics),
        min_seeds=comparison.min_seeds,
        correction=comparison.correction,
        alpha=comparison.alpha,
    )


def _write_significance(out: Path, rows: list[dict[str, Any]], baseline: str) -> str:
    if not rows:
        return f"\nNo other model ran on a dataset of {baseline}.\n"
    write_csv(rows, out / "report_significance.csv")
    return significance_markdown(rows)


def _decode_gap(runs: list[dict[str, Any]]) -> str:
    """The beam-vs-exact table of the runs that measured it (none: empty)."""
    measured = [r for r in runs if DECODE_GAP_METRICS[0] in r["metrics"]["test"]]
    if not measured:
        return ""
    intro = (
        "\nBeam search against exact ranking (runs with model.compare_decodes=true, on their test users): "
        "beam_exact_recall_at_k is the share of the exact top-K that the beam's top-K holds.\n\n"
    )
    return intro + to_markdown(summarize(measured, DECODE_GAP_METRICS), DECODE_GAP_METRICS)


def _make_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise LlmrecError(f"--out {out} is a file; give a folder for the report files")
    out.mkdir(parents=True, exist_ok=True)


def write_report(
    directory: Path,
    metrics: Sequence[str] = DEFAULT_METRICS,
    comparison: Comparison | None = None,
    out: Path | None = None,
) -> str:
    """Write report.md/.csv/.png, the efficiency table and speed plot, and with ``comparison`` the
    significance table; returns the Markdown. Bad input (too few seeds, mixed protocols) raises before
    any file is written. The files go to ``out`` (default: ``directory``), so that one sweep folder can
    hold several reports, e.g. one per baseline."""
    out = directory if out is None else out
    runs, failed = collect(directory)
    metrics = [m for m in metrics if m not in DEFAULT_METRICS or any(m in r["metrics"]["test"] for r in runs)]
    check_metrics(runs, metrics)
    rows = summarize(runs, metrics)
    markdown = to_markdown(rows, metrics) if rows else "No finished runs.\n"
    significance = _significance_rows(runs, comparison) if rows and comparison is not None else None
    _make_folder(out)
    if rows:
        efficiency = efficiency_rows(runs)
        extra = efficiency_markdown(efficiency)
        extra += _decode_gap(runs)
        if significance is not None:  # set exactly when a comparison was asked for
            extra += _write_significance(out, significance, comparison.baseline)
        write_csv(rows, out / "report.csv")
        write_csv(efficiency, out / "report_efficiency.csv")
        plot_metric_bars(rows, metrics, out / "report.png")
        speed_metric = "ndcg_10" if "ndcg_10" in metrics else metrics[0]
        plot_accuracy_vs_time(rows, efficiency, speed_metric, out / "report_speed.png")
        markdown += extra
    if failed:
        markdown += "\nFailed jobs:\n" + "".join(f"- {f['path']}: {f.get('error', '?')}\n" for f in failed)
    if running := unfinished(directory):
        markdown += (
            "\nUnfinished runs (no results.json or failed.json: still running, or stopped before writing "
            "either; not in the tables):\n" + "".join(f"- {folder}\n" for folder in running)
        )
    (out / "report.md").write_text(markdown, encoding="utf-8")
    return markdown


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llmrec.report", description=__doc__)
    parser.add_argument("directory", type=Path, help="a run's or a multirun's output folder")
    parser.add_argument(
        "--metrics", nargs="+", default=list(DEFAULT_METRICS), help="test metrics to tabulate"
    )
    parser.add_argument("--baseline", default=None, help="model (name or label) to compare every model with")
    parser.add_argument(
        "--significance-metrics",
        "--significance-metric",
        nargs="+",
        default=["ndcg_10"],
        help="per-user metrics of the comparisons (hr_K/ndcg_K/mrr_K); each is one more corrected test",
    )
    parser.add_argument("--min-seeds", type=int, default=3, help="seeds each model needs to be compared")
    parser.add_argument("--correction", choices=list(CORRECTIONS), default="holm", help="holm or bh (FDR)")
    parser.add_argument("--alpha", type=float, default=0.05, help="level of the corrected verdicts")
    parser.add_argument("--out", type=Path, default=None, help="folder for the report (default: DIRECTORY)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    comparison = None
    if args.baseline:
        metrics = tuple(args.significance_metrics)
        comparison = Comparison(args.baseline, metrics, args.min_seeds, args.correction, args.alpha)

    def report() -> str:
        out = args.directory if args.out is None else args.out
        markdown = write_report(args.directory, args.metrics, comparison, out)
        return f"{markdown}\nwrote {out / 'report.md'} and the report_*.csv / *.png next to it"

    return run_command(report)


if __name__ == "__main__":
    sys.exit(main())
