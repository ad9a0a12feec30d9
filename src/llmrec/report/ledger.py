"""The reproduction ledger: each published figure beside llmrec's own number for it.

    python -m llmrec.report.ledger [--published experiments/published.yaml] [--runs DIR ...]
                                   [--claims experiments/claims.yaml] [--relative-to ROOT]
                                   [--out experiments/LEDGER.md]

For every figure of the published YAML (:mod:`llmrec.report.published`): llmrec's runs of the same dataset and
model label under the paper's protocol, and under llmrec's main protocol (loo), each group of runs as mean ±
sample std over seeds with the number of seeds, its data fingerprint, a summary of its config and the code
commit; "no run" where there is none. A group on another backbone than the figure's (a stand-in counted
through ``also_models``) names its model label in the table cell itself. The file is a pure function of its
inputs: sorted, no timestamps, run folders relative to ``--relative-to`` (default: each ``--runs`` folder,
named by its last component), so the same files regenerate it byte for byte.

With ``--claims`` (:mod:`llmrec.report.claims`) it also lists the papers' claims (a model better than a
baseline, faster than beam search), each beside llmrec's seed-level test of it, read from the studies'
``report_significance.csv`` and benchmark tables (paths relative to ``--relative-to``, default the folder
the command runs in).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from llmrec.cli import run_command
from llmrec.errors import LlmrecError
from llmrec.report.claims import Claim, claim_lines, load_claims
from llmrec.report.names import model_label
from llmrec.report.published import Figure, load_published
from llmrec.report.rankings import Cell, protocol_name, seed_cell
from llmrec.report.runs import collect

MAIN_PROTOCOL = "loo"
# Settings outside the model's own node that change what a run learns or how long it trains.
CONTEXT_KEYS = (
    ("dataset", "max_len"),
    ("datamodule", "batch_size"),
    ("trainer", "max_epochs"),
    ("protocol", "eval_users"),  # a run that ranked a subset of the users says so in the ledger
    ("protocol", "val_users"),  # and one that validated (stopped early, selected) on a subset
)
STUDY_FOLDER = re.compile(r"^(\d{3})_")  # experiments/NNN_slug
# Model settings that follow the run's seed by default (`${seed}`): the seeds of one setting differ there.
SEED_FOLLOWING = ("sample_seed", "init_seed")
# Settings a model gained after runs of it were saved, with the value those runs used (the class's default):
# such a run groups with newer runs of the same setting instead of standing alone.
ADDED_LATER = {"llmseqprompt": {"decoding": "beam", "temperature": 0.5, "top_p": 1.0}}


@dataclass(frozen=True)
class Group:
    """Runs that differ only in their seed."""

    protocol: str
    label: str
    fingerprint: str
    config: str
    commits: str
    cell: Cell
    folders: tuple[str, ...]

    @property
    def study(self) -> str:
        """ "013" when every run lies in experiments/013_*, else ""."""
        return study_of(self.folders)


def _short_target(node: dict[str, Any]) -> str:
    return str(node["_target_"]).rsplit(".", 1)[-1]


def config_summary(config: dict[str, Any]) -> str:
    """The model's own settings (scalars, and the class of each nested component) and the few training
    settings outside it, as ``key=value`` sorted by key. A setting that follows the seed is left out, unless
    it was fixed to another value."""
    model = config.get("model") or {}
    model = ADDED_LATER.get(str(model.get("name")), {}) | model
    items = {}
    for key, value in model.items():
        if key in {"_target_", "name"} or key.startswith("_"):
            continue
        if key in SEED_FOLLOWING and value == config.get("seed"):
            continue
        if isinstance(value, dict) and "_target_" in value:
            items[key] = _short_target(value)
        elif isinstance(value, (str, int, float, bool)) or value is None:
            items[key] = value
    for section, key in CONTEXT_KEYS:
        value = (config.get(section) or {}).get(key)
        if value is not None:
            items[f"{section}.{key}"] = value
    return ", ".join(f"{key}={items[key]}" for key in sorted(items))


def _commit(result: dict[str, Any]) -> str:
    version = result.get("code_version") or {}
    commit = version.get("commit")
    if not commit:
        return "unknown"
    return str(commit)[:10] + ("+dirty" if version.get("dirty") else "")


def _group_key(result: dict[str, Any]) -> tuple[str, str, str, str]:
    fingerprint = str((result.get("data") or {}).get("fingerprint") or "unknown")
    return (
        protocol_name(result),
        model_label(result),
        fingerprint,
        config_summary(result.get("config") or {}),
    )


def study_of(folders: Sequence[str]) -> str:
    """The number of the one ``NNN_slug`` study folder holding every run folder, or "" (none, or several)."""
    studies = set()
    for folder in folders:
        numbers = [m.group(1) for part in PurePosixPath(folder).parts if (m := STUDY_FOLDER.match(part))]
        studies.add(numbers[0] if numbers else "")
    return studies.pop() if len(studies) == 1 else ""


def _group(key: tuple[str, str, str, str], members: list[dict[str, Any]], metric: str) -> Group:
    seeds = [int(r.get("seed", -1)) for r in members]
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        folders = sorted(r["folder"] for r in members)
        raise LlmrecError(
            f"seed(s) {repeated} appear twice among runs {folders} of the same setting; give each run once"
        )
    commits = "; ".join(sorted({_commit(r) for r in members}))
    cell = seed_cell(members, metric)
    return Group(*key, commits, cell, tuple(sorted(r["folder"] for r in members)))


def groups_for(figure: Figure, runs: list[dict[str, Any]], protocol: str) -> list[Group]:
    """The runs of the figure's dataset and model label under ``protocol``, grouped by setting."""
    grouped: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for result in runs:
        same = result["dataset"] == figure.dataset and model_label(result) in figure.labels()
        if same and protocol_name(result) == protocol:
            grouped[_group_key(result)].append(result)
    return [_group(key, members, figure.metric) for key, members in sorted(grouped.items())]


def _folder_name(result: dict[str, Any], directory: Path, root: Path | None) -> str:
    folder = Path(result["path"]).resolve()
    base = root.resolve() if root is not None else directory.resolve().parent
    try:
        return folder.relative_to(base).as_posix()
    except ValueError:
        raise LlmrecError(
            f"run {folder} is not below --relative-to {root}; give a root above every run"
        ) from None


def load_runs(directories: Sequence[Path], root: Path | None) -> list[dict[str, Any]]:
    """Every finished run below ``directories``, each with a ``folder`` name fit to print."""
    runs = []
    for directory in directories:
        for result in collect(directory)[0]:
            runs.append(result | {"folder": _folder_name(result, directory, root)})
    return runs


def _backbone(label: str) -> str:
    """What a label's brackets name (``minilm`` in ``llm2sasrec[minilm]``), "" when it has none."""
    return label.partition("[")[2]


def _group_text(group: Group, figure: Figure) -> str:
    text = f"{group.study}: {group.cell.text()}" if group.study else group.cell.text()
    # a run on a stand-in backbone (a tiny random LLaMA for LLaMA-2-7B) names it in the table itself
    return text if _backbone(group.label) == _backbone(figure.model) else f"{text} on `{group.label}`"


def _format_groups(figure: Figure, groups: list[Group]) -> str:
    if not groups:
        return "no run"
    return "; ".join(_group_text(g, figure) for g in groups)


def _main_protocol_cell(figure: Figure, groups: list[Group]) -> str:
    # a figure published under the main protocol would repeat its runs in both columns
    return "as left" if figure.protocol == MAIN_PROTOCOL else _format_groups(figure, groups)


def _protocols(figure: Figure) -> tuple[str, ...]:
    return (figure.protocol,) if figure.protocol == MAIN_PROTOCOL else (figure.protocol, MAIN_PROTOCOL)


def _group_lines(protocol: str, groups: list[Group]) -> list[str]:
    if not groups:
        return [f"- under {protocol}: no run"]
    return [
        f"- under {protocol}: {g.cell.text()}; model "
        f"`{g.label}`; data `{g.fingerprint}`; commit `{g.commits}`; config `{g.config}`; runs "
        + ", ".join(f"`{folder}`" for folder in g.folders)
        for g in groups
    ]


def _figure_section(figure: Figure, found: dict[str, list[Group]]) -> list[str]:
    lines = [
        "",
        f"### {figure.dataset} · {figure.model} · {figure.metric} · {figure.paper} ({figure.table})",
        "",
        f"Published {figure.value:g} under `{figure.protocol}`: {figure.note} Source: {figure.source}",
        "",
    ]
    for protocol in _protocols(figure):
        lines += _group_lines(protocol, found[protocol])
    return lines


def _header(published: str, sources: Sequence[str]) -> list[str]:
    runs = ", ".join(f"`{s}`" for s in sources) or "none"
    return [
        "# Reproduction ledger",
        "",
        f"Generated by `python -m llmrec.report.ledger` from `{published}` and the runs below: {runs}.",
        "Do not edit by hand: regenerate it.",
        "",
        "llmrec's numbers are test metrics, mean ± sample std over seeds (number of seeds), under the "
        "paper's protocol (the closest llmrec protocol; each figure's note gives the paper's exact setting) "
        f"and under llmrec's main protocol (`{MAIN_PROTOCOL}`: leave-one-out, full ranking, history masked). "
        "A cell holds one entry per setting; `013:` names the study (`experiments/013_*`) that ran it, and "
        "the figure's section below gives each setting's config and runs.",
        "",
        "| dataset | model | metric | paper | published | protocol | llmrec, paper's protocol "
        f"| llmrec, {MAIN_PROTOCOL} |",
        "|---|---|---|---|---|---|---|---|",
    ]


def _claims_section(claims: Sequence[Claim], root: Path) -> list[str]:
    if not claims:
        return []
    return [
        "",
        "## Claims",
        "",
        "Each paper's claim beside llmrec's test of it: the seed-level test of the study's report (seeds as "
        "the unit, users nested, corrected within the report), or a benchmark's speed table. A claim holds "
        "where the corrected verdict is the claimed direction.",
        "",
        *claim_lines(list(claims), root),
    ]


def render_ledger(
    figures: list[Figure],
    runs: list[dict[str, Any]],
    published: str,
    sources: Sequence[str],
    claims: Sequence[Claim] = (),
    root: Path = Path("."),
) -> str:
    lines = _header(published, sources)
    sections = []
    for figure in figures:
        found = {p: groups_for(figure, runs, p) for p in _protocols(figure)}
        lines.append(
            f"| {figure.dataset} | {figure.model} | {figure.metric} | {figure.paper} | {figure.value:g} | "
            f"{figure.protocol} | {_format_groups(figure, found[figure.protocol])} | "
            f"{_main_protocol_cell(figure, found[MAIN_PROTOCOL])} |"
        )
        sections += _figure_section(figure, found)
    return "\n".join([*lines, *_claims_section(claims, root), "", "## Figures", *sections]) + "\n"


def _source_name(directory: Path, root: Path | None) -> str:
    if root is None:
        return directory.resolve().name
    try:
        return directory.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise LlmrecError(
            f"{directory} is not below --relative-to {root}; give a root above every run"
        ) from None


def write_ledger(
    published: Path,
    directories: Sequence[Path],
    out: Path,
    root: Path | None = None,
    claims: Path | None = None,
) -> str:
    figures = load_published(published)
    listed = load_claims(claims) if claims is not None else []
    runs = load_runs(directories, root)
    shown = published.name if published.is_absolute() else published.as_posix()
    sources = [_source_name(d, root) for d in directories]
    markdown = render_ledger(figures, runs, shown, sources, listed, root or Path("."))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown, encoding="utf-8")
    return markdown


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmrec.report.ledger",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--published", type=Path, default=Path("experiments/published.yaml"))
    parser.add_argument("--runs", type=Path, nargs="*", default=[], help="run or multirun output folders")
    parser.add_argument("--relative-to", type=Path, default=None, help="root that run folders are named from")
    parser.add_argument("--claims", type=Path, default=None, help="YAML of the papers' claims to list")
    parser.add_argument("--out", type=Path, default=Path("experiments/LEDGER.md"))
    args = parser.parse_args(argv)

    def write() -> str:
        write_ledger(args.published, args.runs, args.out, args.relative_to, args.claims)
        return f"wrote {args.out}"

    return run_command(write)


if __name__ == "__main__":
    sys.exit(main())
