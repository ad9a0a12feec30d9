"""Closing a job's W&B run with its results, and logging a sweep's comparison table to W&B.

Called from Hydra callbacks (:mod:`llmrec.run.hydra_callbacks`); does nothing unless wandb is already
imported and a run is active, so runs without the W&B logger never import wandb.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path
from typing import Any

from llmrec.run.loggers import redact, sweep_group_name, wandb_mode
from llmrec.run.results import RESULTS_FILE
from llmrec.run.sweeps import FAILED_FILE

log = logging.getLogger(__name__)
REPORT_FILES = ("report.md", "report.csv", "report_significance.csv", "report_efficiency.csv", "report.png")


def _summary(results: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for split in ("val", "test"):
        summary.update({f"final/{split}/{k}": v for k, v in results["metrics"][split].items()})
    summary.update({f"timings/{k}": v for k, v in results["timings"].items() if v is not None})
    summary.update({f"parameters/{k}": v for k, v in results["parameters"].items()})
    return summary


def finish_job_run(output_dir: Path, fallback_config: dict[str, Any] | None = None) -> bool:
    """Put a job's final metrics, config and ``results.json`` (as an artifact) into the active W&B run
    and finish it (exit code 1 when the job failed). Returns whether there was a run to finish."""
    wandb = sys.modules.get("wandb")
    run = getattr(wandb, "run", None) if wandb is not None else None
    if run is None:
        return False
    results_path = output_dir / RESULTS_FILE
    if results_path.is_file():
        results = json.loads(results_path.read_text(encoding="utf-8"))
        run.config.update(redact(results.get("config", {})), allow_val_change=True)
        run.summary.update(_summary(results))
        artifact = wandb.Artifact(f"results-{run.id}", type="results")
        artifact.add_file(str(results_path))
        run.log_artifact(artifact)
        run.finish(exit_code=0)
        return True
    if fallback_config:
        run.config.update(redact(fallback_config), allow_val_change=True)
    failed = output_dir / FAILED_FILE
    if failed.is_file():
        run.summary.update({"failed/error": json.loads(failed.read_text(encoding="utf-8")).get("error")})
    run.finish(exit_code=1)
    return True


def _table_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def log_report(
    sweep_dir: Path,
    project: str,
    entity: str | None = None,
    mode: str | None = None,
    group: str | None = None,
) -> str:
    """One extra W&B run (job_type ``report``, grouped with the sweep's jobs) holding the comparison
    tables as ``wandb.Table`` and the report files as an artifact. Returns the run's folder."""
    import wandb

    run = wandb.init(
        project=project,
        entity=entity,
        group=str(group) if group else sweep_group_name(sweep_dir),
        job_type="report",
        name=f"report_{sweep_dir.name}",
        dir=str(sweep_dir),
        mode=wandb_mode(mode),
        reinit="finish_previous",
    )
    artifact = wandb.Artifact(f"report-{run.id}", type="report")
    for name in REPORT_FILES:
        path = sweep_dir / name
        if not path.is_file():
            continue
        artifact.add_file(str(path))
        if path.suffix == ".csv":
            columns, rows = _table_rows(path)
            run.log({path.stem: wandb.Table(columns=columns, data=rows)})
    run.log_artifact(artifact)
    folder = str(run.dir)
    run.finish()
    return folder
