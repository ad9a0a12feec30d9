"""What every run writes: ``results.json`` (metrics, per-user ranks, timings, sizes, config, versions)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from llmrec import __version__, _archive
from llmrec.io import write_json_atomic

RESULTS_FILE = "results.json"


def _git(here: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=here, capture_output=True, text=True, timeout=5, check=True
    ).stdout.strip()


def archive_commit() -> str | None:
    """The commit a ``git archive`` export of the package was made from (``llmrec._archive``); None in a
    checkout or an install built from one, where git left the placeholder unexpanded."""
    commit = _archive.COMMIT
    return commit if re.fullmatch(r"[0-9a-f]{40}", commit) else None


def code_version() -> dict[str, Any]:
    """Package version plus git commit and dirty flag of the source tree, when it is a git checkout.
    Dirty: a tracked file changed, or a file under the package that git does not track yet (a new
    module the run imports); untracked files elsewhere (outputs, notes) do not count. Outside a checkout,
    the commit a ``git archive`` export was made from, with ``dirty`` unknown (None): an export keeps no
    record of later edits."""
    version: dict[str, Any] = {"package": __version__}
    here = Path(__file__).resolve().parents[1]  # the llmrec package, not this run/ folder
    try:
        commit = _git(here, "rev-parse", "HEAD")
        package = _git(here, "rev-parse", "--show-prefix")  # e.g. src/llmrec/
        changes = _git(here, "status", "--porcelain").splitlines()
        dirty = [c for c in changes if not c.startswith("??") or c[3:].startswith(package)]
        version.update(commit=commit, dirty=bool(dirty))
    except (OSError, subprocess.SubprocessError):
        commit = archive_commit()
        version.update(commit=commit, dirty=None)
        if commit:
            version["source"] = "git archive"
    return version


def write_results(output_dir: Path, results: dict[str, Any]) -> Path:
    path = output_dir / RESULTS_FILE
    write_json_atomic(path, results)
    return path
