"""The ledger's groups: a study's runs of one figure's dataset and model, under one protocol, grouped by
everything but the seed (data fingerprint, the model's settings and the few training settings outside it),
each group one mean ± std over its seeds. Two runs that differ in anything else stand in separate groups."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from llmrec.errors import LlmrecError
from llmrec.report.names import model_label
from llmrec.report.published import Figure
from llmrec.report.rankings import Cell, protocol_name, seed_cell

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
