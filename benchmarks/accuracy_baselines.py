"""Accuracy of the classic baselines on real data, full ranking, leave-one-out, history masked.

    python benchmarks/accuracy_baselines.py --data-root ../shared/data \
        --run beauty:sasrec --run ml1m:sasrec:model.dropout=0.2,model.attn_dropout=0.2 \
        --run ml1m:bert4rec --max-minutes 30
    python benchmarks/accuracy_baselines.py --data-root ../shared/data --max-minutes 6 trainer=gpu \
        --run beauty:sasrec:datamodule.batch_size=128,model.lr=0.0005

The settings that reach the published figures, and the grid around them: experiments/004.

Each run is ``dataset:model[:override,override...]``; it calls ``python -m llmrec`` once per run and
prints one table of test metrics with wall times and the published figures to reach.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DATA_FOLDERS = {"beauty": "amazon-beauty", "ml1m": "ml-1m", "sports": "amazon-sports", "toys": "amazon-toys"}
TARGETS = {  # (dataset, model): (NDCG@10, HR@10) to reach; None where no figure is given
    ("beauty", "sasrec"): (0.051, 0.082),
    ("ml1m", "sasrec"): (0.18, 0.31),
    ("ml1m", "sasrec_prenorm"): (0.18, 0.31),
    ("ml1m", "sasrec_original"): (0.18, 0.31),
    ("ml1m", "sasrec_ligr"): (0.18, 0.31),
    ("ml1m", "bert4rec"): (0.15, None),
    ("ml1m", "hstu"): (0.172, 0.31),  # Zhai et al.'s README, HSTU on ML-1M (experiments/published.yaml)
}


def _dhms(minutes: float) -> str:
    total = int(minutes * 60)
    return f"00:{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def launch(spec: str, data_root: Path, out_root: Path, max_minutes: float, extra: list[str]) -> dict:
    dataset, model, *rest = spec.split(":", 2)
    overrides = [o for o in (rest[0].split(",") if rest else []) if o]
    out_dir = out_root / f"{dataset}_{model}"
    command = [
        sys.executable,
        "-m",
        "llmrec",
        f"dataset={dataset}",
        f"model={model}",
        f"dataset.root={data_root / DATA_FOLDERS[dataset]}",
        f"hydra.run.dir={out_dir}",
        f"trainer.max_time={_dhms(max_minutes)}",
        "trainer.max_epochs=1000",
        "trainer.enable_progress_bar=false",
        *overrides,
        *extra,
    ]
    started = time.perf_counter()
    if subprocess.run(command).returncode != 0:
        sys.exit(f"run {spec} failed: see {out_dir}/__main__.log")
    results = json.loads((out_dir / "results.json").read_text())
    results["wall_seconds"] = time.perf_counter() - started
    results["spec"] = spec
    return results


def table(rows: list[dict]) -> str:
    head = (
        "| run | epochs | wall (min) | test NDCG@10 | test HR@10 | test NDCG@20 | test HR@20 "
        "| target NDCG@10 / HR@10 |"
    )
    lines = [head, "|---" * 8 + "|"]
    for r in rows:
        t = r["metrics"]["test"]
        goal = TARGETS.get((r["dataset"], r["model"]))
        goal_text = " / ".join("-" if g is None else f"{g:.3f}" for g in goal) if goal else "-"
        lines.append(
            f"| {r['spec']} | {r['timings']['epochs']} | {r['wall_seconds'] / 60:.1f} | {t['ndcg_10']:.4f} | "
            f"{t['hr_10']:.4f} | {t['ndcg_20']:.4f} | {t['hr_20']:.4f} | {goal_text} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--run", action="append", required=True, help="dataset:model[:override,...]")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="training time box per run")
    parser.add_argument(
        "--out", type=Path, default=Path("outputs/benchmarks/accuracy") / time.strftime("%Y-%m-%d_%H-%M-%S")
    )
    parser.add_argument("overrides", nargs="*", help="extra overrides for every run")
    args = parser.parse_args()
    rows = [
        launch(spec, args.data_root.resolve(), args.out, args.max_minutes, args.overrides)
        for spec in args.run
    ]
    print(table(rows))


if __name__ == "__main__":
    main()
