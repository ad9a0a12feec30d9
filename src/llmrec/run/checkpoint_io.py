"""Checkpoint writing that a kill can never leave half-done: temp file in the same folder, fsync, rename.

Lightning's own ``_atomic_save`` writes through an fsspec transaction whose temp file lives in the system
temp folder; when that is another filesystem (tmpfs), the final move is a copy, and a kill during it
leaves a truncated ``last.ckpt``. This plugin keeps the rename on one filesystem.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from llmrec.io import write_bytes_atomic


def save_atomic(checkpoint: dict[str, Any], path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    write_bytes_atomic(path, buffer.getbuffer())


class AtomicCheckpointIO(TorchCheckpointIO):
    """:class:`TorchCheckpointIO` (local files only) with :func:`save_atomic`; loading is unchanged
    (``weights_only`` is passed by ``trainer.fit(..., weights_only=True)``)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        save_atomic(checkpoint, Path(path))
