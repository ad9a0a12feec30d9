"""Every ``conf/model/*.yaml`` on the embedded default, one process each: time, peak memory, test NDCG@10.

    python benchmarks/default_runs.py                       # every model, its own default budget
    python benchmarks/default_runs.py --models sasrec,e4srec --override trainer.max_epochs=2
    python benchmarks/default_runs.py --repo /tmp/old-checkout --out /tmp/before.json   # another tree

Each run is ``python -m llmrec model=<name> <overrides>`` in a fresh folder (the command a user types);
peak memory is the child's maximum resident set (``wait4``), wall time covers the whole process (imports,
data, fit, evaluation). Prints one table (model, epochs, fit and wall time, peak RSS, test NDCG@10,
popularity's NDCG@10) and writes every run's test metrics to ``--out`` as JSON, so two trees can be
compared metric by metric (``--compare before.json``). Run it alone on the machine: its times are
wall-clock.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def model_names(repo: Path) -> list[str]:
    return sorted(path.stem for path in (repo / "conf" / "model").glob("*.yaml"))


def run_one(repo: Path, model: str, overrides: list[str], out_dir: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "llmrec", f"model={model}", f"hydra.run.dir={out_dir}", *overrides]
    command += ["trainer.enable_progress_bar=false"]
    started = time.perf_counter()
    with open(out_dir.parent / f"{model}.log", "w") as log:
        process = subprocess.Popen(command, cwd=out_dir.parent, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    results_file = out_dir / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    test = results.get("metrics", {}).get("test", {})
    timings = results.get("timings", {})
    return {
        "model": model,
        "ok": status == 0 and bool(test),
        "wall_seconds": round(wall, 1),
        "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2),  # ru_maxrss is in KiB on Linux
        "epochs": timings.get("epochs"),
        "fit_seconds": round(timings.get("fit_seconds", 0.0), 1),
        "test": test,
    }


def table(rows: list[dict[str, object]]) -> str:
    popularity = next((r["test"].get("ndcg_10") for r in rows if r["model"] == "popularity"), None)
    pop = f"{popularity:.4f}" if isinstance(popularity, float) else "n/a"
    lines = [
        "| model | epochs | fit (s) | wall (s) | peak RSS (GiB) | test NDCG@10 | popularity NDCG@10 "
        "| learns |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ndcg = row["test"].get("ndcg_10") if row["ok"] else None
        learns = "n/a" if ndcg is None or popularity is None else ("yes" if ndcg > popularity else "NO")
        shown = f"{ndcg:.4f}" if ndcg is not None else "FAILED"
        lines.append(
            f"| {row['model']} | {row.get('epochs')} | {row.get('fit_seconds')} | {row['wall_seconds']} "
            f"| {row['peak_rss_gib']} | {shown} | {pop} | {learns} |"
        )
    return "\n".join(lines)


def compare(rows: list[dict[str, object]], before_file: Path) -> str:
    before = {row["model"]: row for row in json.loads(before_file.read_text())}
    lines = ["| model | metrics compared | largest abs. difference |", "|---|---|---|"]
    for row in rows:
        old = before.get(row["model"], {}).get("test", {})
        shared = sorted(set(old) & set(row["test"]))
        worst = max((abs(old[k] - row["test"][k]) for k in shared), default=float("nan"))
        lines.append(f"| {row['model']} | {len(shared)} | {worst:.2e} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to run (its src/ and conf/)")
    parser.add_argument("--models", default="", help="comma-separated; default: every conf/model/*.yaml")
    parser.add_argument("--override", action="append", default=[], help="a Hydra override for every run")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    parser.add_argument("--compare", type=Path, default=None, help="a JSON written by --out to compare with")
    args = parser.parse_args()
    models = args.models.split(",") if args.models else model_names(args.repo)
    work = Path(tempfile.mkdtemp(prefix="llmrec-default-runs-"))
    rows = []
    for model in models:
        rows.append(run_one(args.repo.resolve(), model, args.override, work / model))
        print(f"{model}: {rows[-1]['wall_seconds']} s, ok={rows[-1]['ok']}", file=sys.stderr, flush=True)
    print(f"torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}; runs and logs in {work}")
    print(table(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    if args.compare:
        print(compare(rows, args.compare))


if __name__ == "__main__":
    main()
