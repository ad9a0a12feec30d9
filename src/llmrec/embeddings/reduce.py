"""Dimensionality reduction of item-text embeddings to a model's hidden size (Harte et al., arXiv
2402.01339: LLM2SASRec / LLM2BERT4Rec start from PCA-reduced LLM embeddings).

Departures from the paper: when the catalog has fewer items than the target size, PCA yields at most
``N`` components; the remaining columns are zero (they carry no variance) and a warning is logged.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from llmrec.errors import ConfigError

log = logging.getLogger(__name__)


def _check(x: np.ndarray, dim: int) -> None:
    if x.ndim != 2:
        raise ConfigError(f"embeddings to reduce must be a 2-d array (items, dim), got shape {x.shape}")
    if dim <= 0:
        raise ConfigError(f"target dimension must be positive, got {dim}")
    if dim > x.shape[1]:
        raise ConfigError(
            f"cannot reduce {x.shape[1]}-d embeddings to {dim} dimensions (more than they have): lower the "
            f"model's hidden size to <= {x.shape[1]} or use a larger text encoder"
        )


def pca(x: np.ndarray, dim: int) -> np.ndarray:
    """Project centred ``x`` (N, D) on its top ``dim`` principal axes (SVD) -> (N, dim) float32."""
    _check(x, dim)
    data = torch.from_numpy(np.asarray(x, dtype=np.float64))
    centred = data - data.mean(0, keepdim=True)  # (N, D)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)  # vh: (min(N, D), D)
    if vh.shape[0] < dim:
        log.warning(
            "PCA: only %d components from %d items; %d columns left at zero", vh.shape[0], len(x), dim
        )
    axes = vh[:dim]
    # sign convention: the largest loading of each axis is positive, so results are deterministic
    signs = torch.sign(axes.gather(1, axes.abs().argmax(1, keepdim=True)))  # (k, 1)
    projected = centred @ (axes * signs).T  # (N, k)
    out = torch.zeros(len(x), dim, dtype=torch.float64)
    out[:, : projected.shape[1]] = projected
    return out.float().numpy()


def random_projection(x: np.ndarray, dim: int, seed: int = 0) -> np.ndarray:
    """Gaussian random projection (N, D) -> (N, dim), scaled by 1/sqrt(dim) (Johnson–Lindenstrauss)."""
    _check(x, dim)
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((x.shape[1], dim)) / np.sqrt(dim)  # (D, dim)
    return (np.asarray(x, dtype=np.float64) @ matrix).astype(np.float32)


class PCAReducer:
    """Config object: ``reducer(x, dim)`` = :func:`pca`."""

    def __call__(self, x: np.ndarray, dim: int) -> np.ndarray:
        return pca(x, dim)


class RandomProjectionReducer:
    """Config object: ``reducer(x, dim)`` = :func:`random_projection` with a fixed seed."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def __call__(self, x: np.ndarray, dim: int) -> np.ndarray:
        return random_projection(x, dim, self.seed)
