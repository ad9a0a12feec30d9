"""Sorts 013's results.json files by protocol for the reports: full copies (with per-user ranks, for the
seed-level tests) under FULL/<protocol>/<run>/, and copies without per-user ranks or local paths (small enough
to commit, enough to resume the study and regenerate the ledger) under RUNS/<protocol>/<run>/.

    python experiments/013_harte_beauty/collect.py <sweep dir> <tune dir> <full out> <runs out>
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

DROPPED = ("per_user", "best_checkpoint")


def sources(sweep: Path, tune: Path) -> list[tuple[str, Path]]:
    """(run name, results.json) of every finished run: the sweep's jobs and the tuner's best re-runs."""
    found = [(path.parent.name, path) for path in sorted(sweep.glob("*/results.json"))]
    for path in sorted(tune.glob("llmseqsim_*/best/seed_*/results.json")):
        found.append((f"{path.parents[2].name}_s{path.parent.name.removeprefix('seed_')}", path))
    return found


def main(sweep: str, tune: str, full_out: str, runs_out: str) -> None:
    for name, path in sources(Path(sweep), Path(tune)):
        results = json.loads(path.read_text())
        protocol = results["protocol"]["name"]
        full = Path(full_out) / protocol / name / "results.json"
        full.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, full)
        small = {key: value for key, value in results.items() if key not in DROPPED}
        target = Path(runs_out) / protocol / name / "results.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(small, indent=1, sort_keys=True) + "\n")
        print(f"{protocol}: {name}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
