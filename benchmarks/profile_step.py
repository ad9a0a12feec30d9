"""Where a SASRec training step's time goes on a CPU: ``torch.profiler`` over ML-1M-shaped bf16 steps, one
table per block layout, the operators that take the most self time first.

    PYTHONPATH=src python benchmarks/profile_step.py                  # ~1 minute on 2 cores
    PYTHONPATH=src python benchmarks/profile_step.py --layouts ligr --steps 20 --top 15

The layouts are the ML-1M configs: ``original`` is ``conf/model/sasrec_original.yaml``, ``ligr`` is
``conf/model/sasrec_ligr.yaml``. Steps are forward, backward and an AdamW update under bf16 autocast on
real training windows of random data shaped like ML-1M (``synthetic_shapes``), after two warm-up steps;
data loading is not in them.
"""

from __future__ import annotations

import argparse

import torch
from synthetic_shapes import SHAPES, random_sequences
from torch.profiler import ProfilerActivity, profile
from train_step import BATCH, MODELS, make_step

from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.split import LeaveOneOut
from llmrec.models.layers.blocks import LiGRBlock
from llmrec.models.layers.feed_forward import SwiGLU
from llmrec.models.sasrec import SASRec

LAYOUTS = {
    "original": MODELS["ml1m"],
    "ligr": dict(heads=1, inner=256, dropout=0.1, attn_dropout=0.1, block=LiGRBlock, feed_forward=SwiGLU),
}


def full_windows(count: int) -> list:
    """``count`` ML-1M-shaped training batches of full-length windows."""
    shape = SHAPES["ml1m"]
    split = LeaveOneOut(random_sequences(shape.users, shape.items, shape.mean_length))
    batches = SequenceDataModule(split, shape.max_len, batch_size=BATCH["ml1m"]).train_dataloader()
    return [b for b in batches if b.items.shape[1] == shape.max_len + 1][:count]


def profile_layout(layout: str, batches: list) -> tuple[float, list[tuple[str, float, int]]]:
    """Milliseconds per step and (operator, self ms per step, calls per step), most expensive first."""
    shape = SHAPES["ml1m"]
    torch.manual_seed(0)
    step = make_step(SASRec(shape.items, shape.max_len, **LAYOUTS[layout]).train(), bf16=True)  # type: ignore[arg-type]
    for batch in batches[:2]:
        step(batch)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in batches[2:]:
            step(batch)
    n = len(batches) - 2
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total_ms = sum(e.self_cpu_time_total for e in events) / 1000 / n
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)
    return total_ms, [(e.key, e.self_cpu_time_total / 1000 / n, e.count // n) for e in rows]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    parser.add_argument("--steps", type=int, default=10, help="profiled steps per layout")
    parser.add_argument("--top", type=int, default=12, help="operators to list per layout")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads, bf16 autocast")
    print(f"ML-1M-shaped batch: {BATCH['ml1m']} windows x {SHAPES['ml1m'].max_len} items\n")
    batches = full_windows(args.steps + 2)  # the first two steps warm up
    for layout in args.layouts:
        total, rows = profile_layout(layout, batches)
        print(f"### {layout}: {total:.0f} ms per step (operator self time, summed)\n")
        print("| operator | ms / step | share | calls / step |")
        print("|---|---|---|---|")
        for name, ms, calls in rows[: args.top]:
            print(f"| {name} | {ms:.1f} | {ms / total:.1%} | {calls} |")
        print(flush=True)


if __name__ == "__main__":
    main()
