"""What every run writes: ``results.json`` (metrics, per-user ranks, timings, sizes, config, versions)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from llmrec import __version__
from llmrec.io import write_json_atomic

RESULTS_FILE = "results.json"


def code_version() -> dict[str, Any]:
    """Package version plus git commit and dirty flag of the source tree, when it is a git checkout."""
    version: dict[str, Any] = {"package": __version__}
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        version.update(commit=commit, dirty=bool(dirty))
    except (OSError, subprocess.SubprocessError):
        version.update(commit=None, dirty=None)
    return version


def write_results(output_dir: Path, results: dict[str, Any]) -> Path:
    path = output_dir / RESULTS_FILE
    write_json_atomic(path, results)
    return path
