"""Wall time of device work, shared by the benchmarks."""

from __future__ import annotations

import time

import torch


def elapsed_since(start: float, device: torch.device | str) -> float:
    """Seconds since ``start`` (a ``time.perf_counter()`` reading) once ``device`` has finished its queued
    work: CUDA kernels run asynchronously, so a timing without the wait measures only their launch."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start
