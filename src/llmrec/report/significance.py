"""The report's comparisons: every model row against the baseline's row of the same dataset, protocol and
sample schema, on per-user test metrics, with the seed as the unit (:mod:`llmrec.report.stats`), and one
correction (Holm or Benjamini-Hochberg) over all comparisons of the report (models x datasets x metrics).

Refused with one error, never a p-value: a row with fewer than ``min_seeds`` distinct seeds; a model whose
runs on a dataset were evaluated under another protocol or sample schema than every baseline run there;
runs of one comparison on different data (``data.fingerprint``) or on different test users.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llmrec.errors import ConfigError
from llmrec.report.corrections import CORRECTIONS, adjust
from llmrec.report.rows import check_comparable, group_runs
from llmrec.report.stats import compare_seeds, per_user_metric

Group = tuple[dict[str, str], list[dict[str, Any]]]


def _paths(runs: list[dict[str, Any]]) -> str:
    return ", ".join(str(r.get("path", "?")) for r in runs)


def _baseline_groups(groups: list[Group], baseline: str) -> list[Group]:
    """The baseline's rows: ``baseline`` is a model name or an honest label; one label per dataset."""
    chosen = [g for g in groups if baseline in (g[0]["model"], g[1][0]["model"])]
    if not chosen:
        raise ConfigError(
            f"baseline {baseline!r} has no finished run here; models: "
            f"{', '.join(sorted({g[0]['model'] for g in groups}))}"
        )
    for key, _ in chosen:
        labels = {k["model"] for k, _ in chosen if k["dataset"] == key["dataset"]}
        if len(labels) > 1:
            raise ConfigError(
                f"baseline {baseline!r} names several rows on {key['dataset']}: {sorted(labels)}; "
                f"pass one of them to --baseline"
            )
    return chosen


def _partner(key: dict[str, str], members: list[dict[str, Any]], bases: list[Group]) -> Group | None:
    """The baseline row this row is compared with; None when the baseline never ran on its dataset."""
    same_dataset = [g for g in bases if g[0]["dataset"] == key["dataset"]]
    for base in same_dataset:
        if (base[0]["protocol"], base[0]["samples"]) == (key["protocol"], key["samples"]):
            return base
    if not same_dataset:
        return None
    theirs = " / ".join(f"protocol {k['protocol']}, samples {k['samples']}" for k, _ in same_dataset)
    raise ConfigError(
        f"cannot compare {key['model']} on {key['dataset']} (protocol {key['protocol']}, samples "
        f"{key['samples']}; runs {_paths(members)}) with baseline {same_dataset[0][0]['model']}, whose runs "
        f"there use {theirs} (runs {_paths([r for _, m in same_dataset for r in m])}): run both under one "
        f"protocol and sample schema"
    )


def _check_seeds(key: dict[str, str], members: list[dict[str, Any]], min_seeds: int) -> None:
    seeds = sorted(r.get("seed") for r in members)
    if len(set(seeds)) != len(seeds):
        raise ConfigError(
            f"{key['model']} on {key['dataset']} has repeated seeds {seeds} ({_paths(members)})"
        )
    if len(seeds) < min_seeds:
        raise ConfigError(
            f"{key['model']} on {key['dataset']} has {len(seeds)} seed(s) {seeds}; a comparison needs at "
            f"least {min_seeds} per model: run more seeds, or lower --min-seeds (>= 2)"
        )


def _user_ranks(result: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(user ids ascending, their 0-based test ranks) of one run."""
    test = (result.get("per_user") or {}).get("test") or {}
    if "user" not in test or "rank" not in test:
        raise ConfigError(f"{result.get('path', '?')}/results.json has no per_user.test ranks")
    ids = np.asarray(test["user"])
    order = np.argsort(ids, kind="stable")
    return ids[order], np.asarray(test["rank"])[order]


def seed_matrix(runs: list[dict[str, Any]], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(seeds x users per-user test values, the user ids ascending): the runs must share their users."""
    users, _ = _user_ranks(runs[0])
    rows = []
    for result in runs:
        ids, ranks = _user_ranks(result)
        if not np.array_equal(ids, users):
            raise ConfigError(
                f"{result.get('path', '?')} was tested on {len(ids)} users, {runs[0].get('path', '?')} on "
                f"{len(users)} others: a paired comparison needs the same test users (same protocol, data)"
            )
        rows.append(per_user_metric(ranks, metric))
    return np.stack(rows), users


def _compare(row: Group, base: Group, metric: str, resamples: int) -> dict[str, Any]:
    (key, members), (base_key, base_members) = row, base
    check_comparable(members + base_members, f"the comparison of {key['model']} with {base_key['model']}")
    xs, _ = seed_matrix(base_members + members, metric)  # one user check across both models
    xa, xb = xs[len(base_members) :], xs[: len(base_members)]
    return key | {"baseline": base_key["model"], "metric": metric} | compare_seeds(xa, xb, resamples)


def significance_rows(
    runs: list[dict[str, Any]],
    baseline: str,
    metrics: list[str],
    min_seeds: int = 3,
    correction: str = "holm",
    alpha: float = 0.05,
    resamples: int = 2000,
) -> list[dict[str, Any]]:
    """Every non-baseline row against the baseline on each of ``metrics``: stats, corrected primary p
    (``p_adj``) and a ``verdict`` (better / worse / not significant at ``alpha`` after correction)."""
    if min_seeds < 2:
        raise ConfigError(
            f"--min-seeds must be at least 2 (a seed-level test needs a spread), got {min_seeds}"
        )
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha must be in (0, 1), got {alpha}")
    groups = group_runs(runs)
    bases = _baseline_groups(groups, baseline)
    pairs = [(g, b) for g in groups if g not in bases and (b := _partner(*g, bases)) is not None]
    for group in {id(g): g for pair in pairs for g in pair}.values():
        _check_seeds(*group, min_seeds)
    rows = [_compare(g, b, metric, resamples) for g, b in pairs for metric in metrics]
    for row, p_adj in zip(rows, adjust([r["p"] for r in rows], correction) if rows else [], strict=True):
        verdict = "not significant" if not p_adj < alpha else ("better" if row["diff"] > 0 else "worse")
        row.update(p_adj=float(p_adj), correction=correction, alpha=alpha, verdict=verdict)
    return rows


def significance_markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    first = rows[0]
    lines = [
        f"\nEach model against {first['baseline']} on per-user test metrics (the seed is the unit). "
        f"p: two-level t-test over seeds and users, {CORRECTIONS[first['correction']]}-corrected over the "
        f"{len(rows)} comparison(s) of this report (p adj), verdict at alpha {first['alpha']}; CI (t): its "
        f"uncorrected 95% interval; CI (boot): two-level bootstrap (seeds, then users), narrower with few "
        f"seeds. For reference: Welch's t-test on per-seed means, and the paired t / Wilcoxon over users on "
        f"seed-averaged values (these ignore seed variance).\n",
        "| model | dataset | protocol | samples | metric | seeds | mean ± std | baseline | diff | rel. | "
        "CI (t) | CI (boot) | p | p adj | verdict | Welch p | user t p | Wilcoxon p |",
        "|" + "---|" * 18,
    ]
    for r in rows:
        cells = [r["model"], r["dataset"], r["protocol"], r["samples"], r["metric"]]
        cells += [f"{r['seeds']} vs {r['baseline_seeds']}", f"{r['mean']:.4f} ± {r['std']:.4f}"]
        cells += [f"{r['baseline_mean']:.4f} ± {r['baseline_std']:.4f}", f"{r['diff']:+.4f}"]
        cells += [f"{r['rel_diff']:+.1%}", f"[{r['t_ci_low']:+.4f}, {r['t_ci_high']:+.4f}]"]
        cells += [f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]"]
        cells += [f"{r[k]:.3g}" for k in ("p", "p_adj")] + [r["verdict"]]
        cells += [f"{r[k]:.3g}" for k in ("welch_p", "user_t_p", "wilcoxon_p")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
