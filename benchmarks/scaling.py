"""What a catalog (and a user base) of a given size costs: SASRec training and full-ranking evaluation
time and peak memory, on random data, as items grow 10k -> 1M and as users grow.

    PYTHONPATH=src python benchmarks/scaling.py                   # ~8 minutes on 2 cores
    PYTHONPATH=src python benchmarks/scaling.py --cell-seconds 10 --losses ce

Each cell runs in its own process, so its peak resident memory (``getrusage`` max RSS, the data, model,
optimizer and one batch of scores included) is its own. SASRec: hidden 64, 2 layers, 2 heads, max_len
50, batch 256, AdamW; objective full-softmax CE (the default) or sampled BCE (``model=sasrec_bce``).
Every cell is time-boxed: a training epoch is extrapolated from the steps that fit in the box (after one
warm-up step), a full evaluation pass (model forward + llmrec's ranking of every user against the whole
catalog, history masked) from the batches that fit; extrapolated figures are marked ``~``. Full-softmax
CE is computed in chunks of rows (``FullSoftmaxCE``), so its memory no longer grows with batch x catalog.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from synthetic_shapes import random_sequences

from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.split import LeaveOneOut
from llmrec.evaluation.evaluator import RankingEvaluator
from llmrec.models.layers.losses import FullSoftmaxCE, SampledBCE
from llmrec.models.sasrec import SASRec

MAX_LEN, BATCH, EVAL_BATCH, MEAN_LENGTH = 50, 256, 512, 10.0
CATALOG_SWEEP = [(20_000, 10_000), (20_000, 100_000), (20_000, 1_000_000)]
USER_SWEEP = [(100_000, 10_000), (1_000_000, 10_000)]


def timed_training(model: SASRec, module: SequenceDataModule, box: float) -> tuple[float, int, int]:
    """(seconds per step, steps timed, steps per epoch); the first step is a warm-up, not timed."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = module.train_dataloader()
    model.train()
    steps, started = -1, 0.0
    for batch in loader:
        optimizer.zero_grad(set_to_none=True)
        model.loss(batch).backward()
        optimizer.step()
        steps += 1
        if steps == 0:
            started = time.perf_counter()
        elif time.perf_counter() - started > box:
            break
    return (time.perf_counter() - started) / max(steps, 1), steps, len(loader)


def timed_evaluation(model: SASRec, module: SequenceDataModule, split: LeaveOneOut, box: float):
    """(seconds per full pass, batches timed, batches per pass)."""
    counts = torch.from_numpy(split.train_item_counts())
    evaluator = RankingEvaluator([5, 10, 20], counts, split.data.num_users)
    loader = module.test_dataloader()
    model.eval()
    done, started = 0, time.perf_counter()
    with torch.inference_mode():
        for batch in loader:
            evaluator.update(model(batch.items[:, :-1]), batch)
            done += 1
            if time.perf_counter() - started > box:
                break
        evaluator.compute()
    return (time.perf_counter() - started) * len(loader) / done, done, len(loader)


def cell(users: int, items: int, loss: str, box: float) -> dict:
    start = time.perf_counter()
    split = LeaveOneOut(random_sequences(users, items, MEAN_LENGTH))
    module = SequenceDataModule(
        split, MAX_LEN, batch_size=BATCH, eval_batch_size=EVAL_BATCH, eval_by_length=True
    )
    objective = FullSoftmaxCE() if loss == "ce" else SampledBCE()
    model = SASRec(items, MAX_LEN, loss=objective)
    prep = time.perf_counter() - start
    step, steps, per_epoch = timed_training(model, module, box)
    eval_pass, batches, per_pass = timed_evaluation(model, module, split, box)
    return {
        "prep": prep,
        "step": step,
        "epoch": step * per_epoch,
        "epoch_extrapolated": steps < per_epoch - 1,
        "eval": eval_pass,
        "eval_extrapolated": batches < per_pass,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def row(users: int, items: int, loss: str, r: dict) -> str:
    mark = {True: "~", False: ""}
    return (
        f"| {users:,} | {items:,} | {loss} | {r['step'] * 1000:.0f} | {mark[r['epoch_extrapolated']]}"
        f"{r['epoch']:.0f} | {mark[r['eval_extrapolated']]}{r['eval']:.1f} | {r['peak_gb']:.2f} | "
        f"{r['prep']:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--losses", nargs="+", default=["ce", "bce"], choices=["ce", "bce"])
    parser.add_argument(
        "--cell-seconds", type=float, default=15.0, help="time box for training, and for eval"
    )
    parser.add_argument("--cell", help=argparse.SUPPRESS)  # users,items,loss: run one cell, print JSON
    args = parser.parse_args()
    if args.cell:
        users, items, loss = args.cell.split(",")
        print(json.dumps(cell(int(users), int(items), loss, args.cell_seconds)))
        return
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; SASRec hidden 64, max_len {MAX_LEN}, "
        f"batch {BATCH}, eval batch {EVAL_BATCH}, mean sequence length {MEAN_LENGTH:.0f}; ~ = extrapolated "
        f"from a {args.cell_seconds:.0f} s box\n"
    )
    print(
        "| users | items | loss | ms / train step | s / epoch | s / full eval pass | peak RSS (GB) "
        "| data prep (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for users, items in CATALOG_SWEEP + USER_SWEEP:
        for loss in args.losses:
            command = [sys.executable, str(Path(__file__)), f"--cell={users},{items},{loss}"]
            command.append(f"--cell-seconds={args.cell_seconds}")
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(
                    f"| {users:,} | {items:,} | {loss} | failed: {done.stderr.strip().splitlines()[-1]} |||||"
                )
                continue
            print(row(users, items, loss, json.loads(done.stdout.strip().splitlines()[-1])), flush=True)


if __name__ == "__main__":
    main()
