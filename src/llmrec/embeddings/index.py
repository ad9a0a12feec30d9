"""Exact nearest neighbours behind one small interface: ``index.add(vectors)``, ``index.search(queries, k)``.

:class:`FaissIndex` wraps ``IndexFlatIP`` / ``IndexFlatL2`` (moved to the GPU when faiss has GPUs);
:class:`TorchIndex` is a plain matmul + top-k. Both return (scores, ids) with larger = closer: the inner
product for ``metric="ip"``, the negative squared distance for ``metric="l2"``; ids index the added rows.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from llmrec.errors import ConfigError

METRICS = ("ip", "l2")


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ConfigError(f"index metric must be one of {METRICS}, got {metric!r}")
    return metric


def _as_matrix(x: np.ndarray | torch.Tensor) -> np.ndarray:
    array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if array.ndim != 2:
        raise ConfigError(f"vectors must be 2-d (count, dim), got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


class NearestNeighbors(Protocol):
    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


class FaissIndex:
    """Exact faiss index; ``use_gpu`` moves it to all GPUs when faiss was built with them."""

    def __init__(self, metric: str = "ip", use_gpu: bool = True) -> None:
        self.metric = _check_metric(metric)
        self.use_gpu = use_gpu
        self._index: Any = None
        self.size = 0

    def add(self, vectors: np.ndarray) -> None:
        try:
            import faiss
        except ImportError:
            raise ConfigError(
                "faiss is not installed: pip install 'llmrec[cpu]' (or 'llmrec[gpu]' on GPU hosts), or set "
                "model.index._target_=llmrec.embeddings.index.TorchIndex (exact search, the same neighbours)"
            ) from None
        data = _as_matrix(vectors)
        index = faiss.IndexFlatIP(data.shape[1]) if self.metric == "ip" else faiss.IndexFlatL2(data.shape[1])
        if self.use_gpu and hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0:
            index = faiss.index_cpu_to_all_gpus(index)
        index.add(data)
        self._index, self.size = index, data.shape[0]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._index is None:
            raise RuntimeError("add vectors to the index before searching it")
        scores, ids = self._index.search(_as_matrix(queries), min(k, self.size))  # (Q, k) each
        return (scores if self.metric == "ip" else -scores), ids.astype(np.int64)


class TorchIndex:
    """Exact search with a matmul and ``torch.topk`` (on the device of the added vectors)."""

    def __init__(self, metric: str = "ip", device: str | None = None) -> None:
        self.metric = _check_metric(metric)
        self.device = device
        self._vectors: torch.Tensor | None = None

    def add(self, vectors: np.ndarray) -> None:
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._vectors = torch.from_numpy(_as_matrix(vectors)).to(device)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._vectors is None:
            raise RuntimeError("add vectors to the index before searching it")
        q = torch.from_numpy(_as_matrix(queries)).to(self._vectors.device)  # (Q, D)
        scores = q @ self._vectors.T  # (Q, N)
        if self.metric == "l2":
            scores = (
                2 * scores - (q * q).sum(1, keepdim=True) - (self._vectors**2).sum(1)[None, :]
            )  # -|q-x|^2
        top = torch.topk(scores, min(k, self._vectors.shape[0]), dim=1)
        return top.values.cpu().numpy(), top.indices.cpu().numpy().astype(np.int64)
