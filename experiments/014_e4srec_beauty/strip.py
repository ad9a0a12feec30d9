"""Copies every results.json below a sweep folder (runs and their re-evaluations) to OUT, at the same relative
path, without the checkpoint path and without per-user ranks over every user (kept for the 5,000 evaluated
users, so compare.py runs from the committed copies). With --all-ranks every user's test ranks are kept (other
splits' dropped; compact JSON, about 0.23 MB a run over Beauty's 22,363 users), so llmrec.report's seed-level
tests run from the committed copies of a study tested on every user.

    python experiments/014_e4srec_beauty/strip.py <sweep dir> <out dir> [--all-ranks]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KEPT_USERS = 5000


def stripped(results: dict[str, Any], all_ranks: bool) -> dict[str, Any]:
    results.pop("best_checkpoint", None)
    test = (results.get("per_user") or {}).get("test") or {}
    if all_ranks and test:
        results["per_user"] = {"test": test}
    elif len(test.get("user", [])) > KEPT_USERS:
        results.pop("per_user")
    return results


def main(sweep: Path, out: Path, all_ranks: bool) -> None:
    for path in sorted(sweep.glob("**/results.json")):
        results = stripped(json.loads(path.read_text()), all_ranks)
        target = out / path.relative_to(sweep)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(results, separators=(",", ":")) if all_ranks else json.dumps(results, indent=1)
        target.write_text(text + "\n")
        print(target)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), all_ranks="--all-ranks" in sys.argv[3:])
