"""What every run writes: ``results.json`` (metrics, per-user ranks, timings, sizes, config, versions)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from llmrec import __version__
from llmrec.io import write_json_atomic

RESULTS_FILE = "results.json"


def _git(here: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=here, capture_output=True, text=True, timeout=5, check=True
    ).stdout.strip()


def code_version() -> dict[str, Any]:
    """Package version plus git commit and dirty flag of the source tree, when it is a git checkout.
    Dirty: a tracked file changed, or a file under the package that git does not track yet (a new
    module the run imports); untracked files elsewhere (outputs, notes) do not count."""
    version: dict[str, Any] = {"package": __version__}
    here = Path(__file__).resolve().parents[1]  # the llmrec package, not this run/ folder
    try:
        commit = _git(here, "rev-parse", "HEAD")
        package = _git(here, "rev-parse", "--show-prefix")  # e.g. src/llmrec/
        changes = _git(here, "status", "--porcelain").splitlines()
        dirty = [c for c in changes if not c.startswith("??") or c[3:].startswith(package)]
        version.update(commit=commit, dirty=bool(dirty))
    except (OSError, subprocess.SubprocessError):
        version.update(commit=None, dirty=None)
    return version


def write_results(output_dir: Path, results: dict[str, Any]) -> Path:
    path = output_dir / RESULTS_FILE
    write_json_atomic(path, results)
    return path
