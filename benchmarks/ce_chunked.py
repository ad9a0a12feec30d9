"""Full-softmax cross-entropy: llmrec's chunked FullSoftmaxCE against ``F.cross_entropy`` over the whole
logit matrix, forward + backward, on random hidden states and item tables of real shapes.

    PYTHONPATH=src python benchmarks/ce_chunked.py          # ~3 minutes on 2 cores

Each cell runs in its own process, so its peak resident memory (``getrusage`` max RSS) is its own. A plain
cell whose logits alone would exceed ``--max-logits-gb`` is not run and says so.
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
import torch.nn.functional as F

from llmrec.models.layers.losses import FullSoftmaxCE

HIDDEN = 64
CELLS = [  # (rows, items, what the shape is)
    (128 * 200, 3_416, "MovieLens-1M: batch 128 x max_len 200"),
    (256 * 50, 12_101, "Beauty: batch 256 x max_len 50"),
    (4_096, 100_000, "100k items"),
    (4_096, 1_000_000, "1M items"),
]


def plain(hidden: torch.Tensor, targets: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    logits = hidden @ table.T
    logits[:, 0] = float("-inf")
    return F.cross_entropy(logits, targets)


def cell(rows: int, items: int, kind: str, repeats: int) -> dict:
    torch.manual_seed(0)
    hidden = torch.randn(rows, HIDDEN, requires_grad=True)
    table = (torch.randn(items + 1, HIDDEN) * 0.1).requires_grad_()
    targets = torch.randint(1, items + 1, (rows,))
    loss = FullSoftmaxCE() if kind == "chunked" else plain
    times = []
    for _ in range(repeats + 1):  # the first call warms up
        hidden.grad = table.grad = None
        started = time.perf_counter()
        loss(hidden, targets, table).backward()
        times.append(time.perf_counter() - started)
    return {"ms": sorted(times[1:])[len(times[1:]) // 2] * 1000, "peak_gb": peak_gb()}


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_cell(rows: int, items: int, kind: str, repeats: int) -> dict | str:
    command = [sys.executable, str(Path(__file__)), f"--cell={rows},{items},{kind}", f"--repeats={repeats}"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per cell (median reported)")
    parser.add_argument("--max-logits-gb", type=float, default=3.0)
    parser.add_argument("--cell", help=argparse.SUPPRESS)  # rows,items,kind: run one cell, print JSON
    args = parser.parse_args()
    if args.cell:
        rows, items, kind = args.cell.split(",")
        print(json.dumps(cell(int(rows), int(items), kind, args.repeats)))
        return
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, hidden {HIDDEN}, fp32, "
        "forward + backward\n"
    )
    print(
        "| shape | rows | items | F.cross_entropy ms | chunked ms | speed-up "
        "| peak RSS plain / chunked (GB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for rows, items, what in CELLS:
        chunked = run_cell(rows, items, "chunked", args.repeats)
        logits_gb = rows * (items + 1) * 4 / 2**30
        if logits_gb > args.max_logits_gb:
            base: dict | str = f"not run: logits alone ~{logits_gb:.0f} GB"
        else:
            base = run_cell(rows, items, "plain", args.repeats)
        if isinstance(chunked, str) or isinstance(base, str):
            base_ms = base if isinstance(base, str) else f"{base['ms']:.0f}"
            chunked_ms = chunked if isinstance(chunked, str) else f"{chunked['ms']:.0f}"
            peak = "-" if isinstance(chunked, str) else f"- / {chunked['peak_gb']:.2f}"
            print(f"| {what} | {rows:,} | {items:,} | {base_ms} | {chunked_ms} | - | {peak} |", flush=True)
            continue
        print(
            f"| {what} | {rows:,} | {items:,} | {base['ms']:.0f} | {chunked['ms']:.0f} | "
            f"{base['ms'] / chunked['ms']:.2f}x | {base['peak_gb']:.2f} / {chunked['peak_gb']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
