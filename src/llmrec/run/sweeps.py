"""What a sweep job does besides training: skip a job that is already done, record a failed one.

A multirun must survive one bad job: any exception becomes ``failed.json`` (error, type, traceback) in
the job's folder and the launcher moves on; the report lists it. ``skip_done=true`` turns a re-run of
the same sweep (same ``hydra.sweep.dir``) into a resume: jobs with a ``results.json`` are not re-run.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any

from llmrec.errors import LlmrecError
from llmrec.io import write_json_atomic
from llmrec.run.results import RESULTS_FILE

FAILED_FILE = "failed.json"
log = logging.getLogger(__name__)


def finished_results(output_dir: Path) -> dict[str, Any] | None:
    """The results of a job that already finished in ``output_dir``, or None (missing or unreadable)."""
    path = output_dir / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        log.warning("%s is unreadable: the job runs again", path)
        return None
    return results if isinstance(results, dict) and results.get("status") == "ok" else None


def record_failure(output_dir: Path, error: BaseException) -> Path:
    """Write ``failed.json``: a user error keeps its one line; anything else also keeps its traceback."""
    record: dict[str, Any] = {"status": "failed", "error": str(error) or type(error).__name__}
    record["type"] = type(error).__name__
    if not isinstance(error, LlmrecError):
        record["traceback"] = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    path = output_dir / FAILED_FILE
    write_json_atomic(path, record)
    return path


def clear_failure(output_dir: Path) -> None:
    """A job that now succeeds must not stay listed as failed from an earlier attempt."""
    (output_dir / FAILED_FILE).unlink(missing_ok=True)


def monitored_value(results: dict[str, Any], monitor: str) -> float | None:
    """The value a sweeper optimises (``val/ndcg_10`` → ``results['metrics']['val']['ndcg_10']``)."""
    split, _, name = monitor.partition("/")
    value = results.get("metrics", {}).get(split, {}).get(name)
    return None if value is None else float(value)
