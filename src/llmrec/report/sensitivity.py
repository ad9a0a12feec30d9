"""Protocol sensitivity: does the models' ranking survive a change of protocol?

    python -m llmrec.report.sensitivity DIR [DIR ...] [--metric ndcg_10] [--out FOLDER]

Reads every ``results.json`` below the folders and writes, per dataset, each model's test metric under each
protocol (mean ± sample std over seeds, with the number of seeds), the models' ranking per protocol, Kendall's
tau-b between every two protocols' rankings and the pairs of models that swap order: ``sensitivity.md``,
``sensitivity.csv`` (one row per model × protocol) and ``sensitivity_pairs.csv`` (one row per protocol pair),
in ``--out`` (default: the first DIR).

Rankings use only the models that every protocol of the dataset has (a model missing under one protocol is
shown as missing and left out of every ranking, so all rankings order the same set). Ties: models with equal
means share a rank (average rank); tau-b accounts for them; a pair tied under either protocol is no swap.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.cli import run_command
from llmrec.errors import LlmrecError
from llmrec.report.rankings import Cell, DatasetTable, sensitivity_tables
from llmrec.report.runs import collect


def _format_cell(cell: Cell | None) -> str:
    return "missing" if cell is None else cell.text()


def _format_tau(tau: float) -> str:
    return "n/a" if np.isnan(tau) else f"{tau:+.3f}"


def _ranking_line(ranks: dict[str, float]) -> str:
    """``a > b = c``: best first, equal means joined by ``=`` (ordered by name)."""
    ordered = sorted(ranks, key=lambda name: (ranks[name], name))
    parts = [ordered[0]] if ordered else []
    for before, name in itertools.pairwise(ordered):
        parts.append(("= " if ranks[name] == ranks[before] else "> ") + name)
    return " ".join(parts)


def _metric_table(table: DatasetTable) -> list[str]:
    lines = ["| model | " + " | ".join(table.protocols) + " |", "|---" * (len(table.protocols) + 1) + "|"]
    for model in table.models:
        cells = [_format_cell(table.cells.get((model, p))) for p in table.protocols]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def _ranking_section(table: DatasetTable) -> list[str]:
    lines = ["", f"Ranking, best first, over the {len(table.shared)} model(s) every protocol has:", ""]
    lines += ["| protocol | ranking |", "|---|---|"]
    lines += [f"| {p} | {_ranking_line(table.ranks[p])} |" for p in table.protocols]
    left_out = [m for m in table.models if m not in table.shared]
    for model in left_out:
        absent = [p for p in table.protocols if (model, p) not in table.cells]
        lines.append(f"\n{model} is not ranked: no run under {', '.join(absent)}.")
    return lines


def _pairs_section(table: DatasetTable) -> list[str]:
    if not table.pairs:
        return ["", "One protocol only: nothing to compare rankings with."]
    lines = ["", "Kendall's tau-b between the rankings, and the pairs that swap order:", ""]
    lines += [
        "| protocols | tau | swapped (ahead under the first > ahead under the second) |",
        "|---|---|---|",
    ]
    for pair in table.pairs:
        swaps = ", ".join(f"{a} > {b}" for a, b in pair.swapped) or "none"
        lines.append(f"| {pair.first} vs {pair.second} | {_format_tau(pair.tau)} | {swaps} |")
    return lines


def to_markdown(tables: list[DatasetTable], metric: str) -> str:
    lines = [
        f"# Protocol sensitivity: test {metric}",
        "",
        "Mean ± sample std over seeds (number of seeds); no ± for one seed. Equal means share a rank (`=`); "
        "tau is Kendall's tau-b; a pair tied under either protocol is not counted as a swap. Not converged: "
        "runs that reached their budget while validation was still improving.",
    ]
    for table in tables:
        lines += ["", f"## {table.dataset}", "", *_metric_table(table)]
        lines += _ranking_section(table) + _pairs_section(table)
    return "\n".join(lines) + "\n"


def cell_rows(tables: list[DatasetTable], metric: str) -> list[dict[str, Any]]:
    rows = []
    for table in tables:
        for model, protocol in itertools.product(table.models, table.protocols):
            cell = table.cells.get((model, protocol))
            rank = table.ranks[protocol].get(model)
            rows.append(
                {
                    "dataset": table.dataset,
                    "model": model,
                    "protocol": protocol,
                    "metric": metric,
                    "mean": "" if cell is None else f"{cell.mean:.6f}",
                    "std": "" if cell is None else f"{cell.std:.6f}",
                    "seeds": 0 if cell is None else cell.seeds,
                    "unconverged": 0 if cell is None else cell.unconverged,
                    "rank": "" if rank is None else f"{rank:g}",
                }
            )
    return rows


def pair_rows(tables: list[DatasetTable]) -> list[dict[str, Any]]:
    return [
        {
            "dataset": table.dataset,
            "protocol_a": pair.first,
            "protocol_b": pair.second,
            "models": len(table.shared),
            "kendall_tau": "" if np.isnan(pair.tau) else f"{pair.tau:.6f}",
            "swapped": "; ".join(f"{a} > {b}" for a, b in pair.swapped),
        }
        for table in tables
        for pair in table.pairs
    ]


def _write_csv(rows: list[dict[str, Any]], fields: Sequence[str], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


PAIR_FIELDS = ("dataset", "protocol_a", "protocol_b", "models", "kendall_tau", "swapped")
CELL_FIELDS = ("dataset", "model", "protocol", "metric", "mean", "std", "seeds", "unconverged", "rank")


def write_sensitivity(directories: Sequence[Path], out: Path, metric: str = "ndcg_10") -> str:
    """Write sensitivity.md, sensitivity.csv and sensitivity_pairs.csv into ``out``; returns the Markdown."""
    runs, failed = [], []
    for directory in directories:
        found, broken = collect(directory)
        runs += found
        failed += [
            f"{directory.name}/{Path(f['path']).relative_to(directory)}: {f.get('error', '?')}"
            for f in broken
        ]
    if not runs:
        raise LlmrecError(f"no finished run below {', '.join(map(str, directories))}: nothing to compare")
    tables = sensitivity_tables(runs, metric)
    markdown = to_markdown(tables, metric)
    if failed:  # a protocol whose every job failed would otherwise just be absent
        markdown += f"\n{len(failed)} failed job(s), not in the tables:\n" + "".join(
            f"- {f}\n" for f in sorted(failed)
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "sensitivity.md").write_text(markdown, encoding="utf-8")
    _write_csv(cell_rows(tables, metric), CELL_FIELDS, out / "sensitivity.csv")
    _write_csv(pair_rows(tables), PAIR_FIELDS, out / "sensitivity_pairs.csv")
    return markdown


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmrec.report.sensitivity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directories", type=Path, nargs="+", help="run or multirun output folders")
    parser.add_argument("--metric", default="ndcg_10", help="test metric to compare (default ndcg_10)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the files (default: first DIR)")
    args = parser.parse_args(argv)
    return run_command(
        lambda: write_sensitivity(args.directories, args.out or args.directories[0], args.metric), end=""
    )


if __name__ == "__main__":
    sys.exit(main())
