"""Models ranked per protocol, and how two protocols' rankings compare: the numbers behind
:mod:`llmrec.report.sensitivity` (one table per dataset; cells are mean ± sample std over seeds)."""

from __future__ import annotations

import itertools
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import kendalltau, rankdata

from llmrec.errors import LlmrecError
from llmrec.report.names import model_label
from llmrec.report.rows import mean_std_text
from llmrec.report.runs import protocol_of, samples_of

PROTOCOL_ORDER = ("loo", "loo_unmasked", "sampled", "user_holdout")


@dataclass(frozen=True)
class Cell:
    mean: float
    std: float
    seeds: int
    unconverged: int = 0  # runs whose results.json says converged: false (stopped while still improving)

    def text(self) -> str:
        """``0.0500 ± 0.0141 (2)``, or ``(2; 1 not converged)``; one seed ``0.0500 (1)``."""
        flag = f"; {self.unconverged} not converged" if self.unconverged else ""
        return f"{mean_std_text(self.mean, self.std, self.seeds)} ({self.seeds}{flag})"


@dataclass(frozen=True)
class PairRow:
    first: str
    second: str
    tau: float
    swapped: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DatasetTable:
    dataset: str
    protocols: tuple[str, ...]
    models: tuple[str, ...]
    cells: dict[tuple[str, str], Cell]  # (model, protocol) -> cell
    shared: tuple[str, ...]  # the models every protocol has: the ones ranked
    ranks: dict[str, dict[str, float]]  # protocol -> model -> rank (1 = best, ties averaged)
    pairs: tuple[PairRow, ...]


def protocol_name(result: dict[str, Any]) -> str:
    """The protocol a run was evaluated under (older results.json: loo, or loo_unmasked when unmasked)."""
    return str(protocol_of(result)["name"])


def _protocol_key(name: str) -> tuple[int, str]:
    return (PROTOCOL_ORDER.index(name) if name in PROTOCOL_ORDER else len(PROTOCOL_ORDER), name)


def metric_value(result: dict[str, Any], metric: str) -> float:
    test = result["metrics"]["test"]
    if metric not in test:
        raise LlmrecError(
            f"{result['path']}/results.json has no test metric {metric!r} (it has {sorted(test)}); "
            f"ask for one of those"
        )
    return float(test[metric])


def _check_one_sample_schema(runs: list[dict[str, Any]], dataset: str) -> None:
    """Protocols are the one thing that may differ: runs trained from other sample schemas do not compare."""
    schemas = sorted({str(samples_of(r)["name"]) for r in runs})
    if len(schemas) > 1:
        raise LlmrecError(
            f"runs on {dataset} were trained from different sample schemas {schemas}; a sensitivity table "
            f"varies the protocol only: give folders whose runs share one samples=... choice"
        )


def _check_one_setting_per_protocol(runs: list[dict[str, Any]], dataset: str) -> None:
    """Runs pooled under one protocol name must share its settings (sampled: the same candidates)."""
    settings: dict[str, set[str]] = defaultdict(set)
    for result in runs:
        recorded = protocol_of(result)
        settings[str(recorded["name"])].add(json.dumps(recorded, sort_keys=True, default=str))
    for name, variants in sorted(settings.items()):
        if len(variants) > 1:
            raise LlmrecError(
                f"runs on {dataset} under protocol {name} differ in its settings "
                f"({' vs '.join(sorted(variants))}); give folders whose runs of a protocol share its settings"
            )


def _by_cell(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(model, protocol) -> its runs, one a seed; the same seed twice is an error, not a fourth seed."""
    seen: dict[tuple[str, str, int], str] = {}
    members: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for result in runs:
        key = (model_label(result), protocol_name(result))
        seed_key = (*key, int(result.get("seed", -1)))
        if seed_key in seen:
            raise LlmrecError(
                f"two runs of {key[0]} under protocol {key[1]} with seed {seed_key[2]}: {seen[seed_key]} and "
                f"{result['path']}; give folders that hold each seed once"
            )
        seen[seed_key] = result["path"]
        members[key].append(result)
    return members


def seed_cell(runs: list[dict[str, Any]], metric: str) -> Cell:
    """Mean and sample std (0 for one seed) of ``metric`` over the runs, and how many did not converge."""
    values = [metric_value(result, metric) for result in runs]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    unconverged = sum(result.get("converged") is False for result in runs)
    return Cell(statistics.fmean(values), std, len(values), unconverged)


def rank_models(means: dict[str, float]) -> dict[str, float]:
    """Rank 1 = highest mean; equal means share the average of their ranks."""
    names = sorted(means)
    ranks = rankdata([-means[name] for name in names], method="average")
    return {name: float(rank) for name, rank in zip(names, ranks, strict=True)}


def swapped_pairs(first: dict[str, float], second: dict[str, float]) -> tuple[tuple[str, str], ...]:
    """Pairs (a, b), a ahead under ``first``, that ``second`` orders the other way round (strictly)."""
    swaps = []
    for a, b in itertools.combinations(sorted(first), 2):
        direction = np.sign(first[a] - first[b]) * np.sign(second[a] - second[b])
        if direction < 0:
            swaps.append((a, b) if first[a] > first[b] else (b, a))
    return tuple(sorted(swaps))


def kendall_tau(first: dict[str, float], second: dict[str, float]) -> float:
    """Kendall's tau-b between two protocols' means over the same models; nan below two models or when one
    protocol ties them all."""
    names = sorted(first)
    if len(names) < 2:
        return float("nan")
    result = kendalltau([first[n] for n in names], [second[n] for n in names])
    return float(result.statistic)


def dataset_table(dataset: str, runs: list[dict[str, Any]], metric: str) -> DatasetTable:
    _check_one_sample_schema(runs, dataset)
    _check_one_setting_per_protocol(runs, dataset)
    cells = {key: seed_cell(members, metric) for key, members in _by_cell(runs).items()}
    protocols = tuple(sorted({p for _, p in cells}, key=_protocol_key))
    models = tuple(sorted({m for m, _ in cells}))
    shared = tuple(m for m in models if all((m, p) in cells for p in protocols))
    means = {p: {m: cells[(m, p)].mean for m in shared} for p in protocols}
    pairs = tuple(
        PairRow(a, b, kendall_tau(means[a], means[b]), swapped_pairs(means[a], means[b]))
        for a, b in itertools.combinations(protocols, 2)
    )
    ranks = {p: rank_models(means[p]) for p in protocols}
    return DatasetTable(dataset, protocols, models, cells, shared, ranks, pairs)


def sensitivity_tables(runs: list[dict[str, Any]], metric: str) -> list[DatasetTable]:
    """One table per dataset, sorted by dataset name."""
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in runs:
        by_dataset[result["dataset"]].append(result)
    return [dataset_table(name, members, metric) for name, members in sorted(by_dataset.items())]
