"""Copies every results.json below a sweep folder (runs and their re-evaluations) to OUT, at the same relative
path, without the checkpoint path and without per-user ranks over every user (kept for the 5,000 evaluated
users, so compare.py runs from the committed copies).

    python experiments/014_e4srec_beauty/strip.py <sweep dir> <out dir>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KEPT_USERS = 5000


def main(sweep: Path, out: Path) -> None:
    for path in sorted(sweep.glob("**/results.json")):
        results = json.loads(path.read_text())
        results.pop("best_checkpoint", None)
        if len(((results.get("per_user") or {}).get("test") or {}).get("user", [])) > KEPT_USERS:
            results.pop("per_user")
        target = out / path.relative_to(sweep)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(results, indent=1) + "\n")
        print(target)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
