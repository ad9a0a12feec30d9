"""The training steps of the ID baselines HSTU and GRU4Rec against SASRec's at the same hidden size, on a
CPU, on batches shaped like ML-1M and Beauty.

    PYTHONPATH=src:benchmarks python benchmarks/id_baselines_speed.py     # ~10 minutes on 2 cores
    PYTHONPATH=src:benchmarks python benchmarks/id_baselines_speed.py --sizes beauty --hidden 50 64 --steps 20

Results: benchmarks/results/id_baselines_speed.md.

Each model keeps its config's other defaults (conf/model/sasrec.yaml: 2 post-norm blocks, 2 heads, GELU
MLP 256 wide; conf/model/hstu.yaml: 2 blocks, 1 head; conf/model/gru4rec.yaml: 1 GRU layer) and trains with
full-softmax CE. Batches are real
training windows of random data (``synthetic_shapes``); for ML-1M the full-length ones, so every step
attends over 200 positions. Each step is forward, backward and an AdamW update in fp32; the models run
interleaved, batch by batch, after two warm-up steps, and the table gives their mean step time.
"""

from __future__ import annotations

import argparse
import time

import torch
from synthetic_shapes import SHAPES, random_sequences
from train_step import BATCH, make_step

from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.split import LeaveOneOut
from llmrec.models.gru4rec import GRU4Rec
from llmrec.models.hstu import HSTU
from llmrec.models.sasrec import SASRec

MODELS = {"sasrec": SASRec, "hstu": HSTU, "gru4rec": GRU4Rec}  # the first is the reference


def training_batches(size: str, count: int) -> list:
    """``count`` training batches of the dataset's shape, full-length windows first."""
    shape = SHAPES[size]
    split = LeaveOneOut(random_sequences(shape.users, shape.items, shape.mean_length))
    batches = list(SequenceDataModule(split, shape.max_len, batch_size=BATCH[size]).train_dataloader())
    batches.sort(key=lambda b: -b.items.shape[1])
    return batches[:count]


def step_seconds(size: str, hidden: int, steps: int) -> dict[str, float]:
    shape = SHAPES[size]
    batches = training_batches(size, steps + 2)
    models = {}
    for name, cls in MODELS.items():
        torch.manual_seed(0)
        models[name] = make_step(cls(shape.items, shape.max_len, hidden=hidden).train(), bf16=False)
    seconds = dict.fromkeys(models, 0.0)
    for i, batch in enumerate(batches):  # the first two steps warm up
        for name, step in models.items():
            start = time.perf_counter()
            step(batch)
            if i >= 2:
                seconds[name] += time.perf_counter() - start
    return {name: total / (len(batches) - 2) for name, total in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["ml1m", "beauty"], choices=list(BATCH))
    parser.add_argument("--hidden", nargs="+", type=int, default=[64])
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads, {args.steps} steps each\n")
    others = list(MODELS)[1:]
    print(
        "| shape | batch | hidden | sasrec (s/step) | "
        + " | ".join(f"{m} (s/step) | {m} / sasrec" for m in others)
        + " |"
    )
    print("|---|---|---|---|" + "---|---|" * len(others))
    for size in args.sizes:
        for hidden in args.hidden:
            t = step_seconds(size, hidden, args.steps)
            shape = f"{SHAPES[size].name} | {BATCH[size]} x {SHAPES[size].max_len}"
            times = " | ".join(
                [f"{t['sasrec']:.3f}", *(f"{t[m]:.3f} | {t[m] / t['sasrec']:.2f}×" for m in others)]
            )
            print(f"| {shape} | {hidden} | {times} |", flush=True)


if __name__ == "__main__":
    main()
