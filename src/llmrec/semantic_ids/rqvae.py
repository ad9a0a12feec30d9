"""RQ-VAE item tokenizer of TIGER (Rajput et al., "Recommender Systems with Generative Retrieval",
NeurIPS 2023, section 3.1).

An MLP encoder maps an item's text embedding to a latent; ``levels`` codebooks quantise it residually (level
1 the latent, each later level what is left); an MLP decoder reconstructs the embedding from the sum of the
chosen code vectors. Loss = reconstruction MSE + sum over levels of ||sg[r] - e||^2 + beta ||r - sg[e]||^2,
gradients pass the quantiser straight through. Each level's codebook starts from k-means of its residuals.

Departures from the paper:
- Adam (lr 1e-3, batches of 256) for 30 epochs instead of Adagrad (lr 0.4, batches of 1024) for 20k
  epochs, to fit a CPU budget of about two minutes for Beauty (benchmarks/semantic_ids_speed.py); with the
  dead-code restart below every code of every level is in use on Beauty (MiniLM) after 30 epochs.
- k-means initialisation on the residuals of the whole catalog (the paper: the first batch), with each
  level's k clipped to the number of distinct residuals so tiny catalogs work.
- A code no item chose during an epoch moves onto a random item's residual at its level (dead-code restart,
  as in SoundStream and later RQ-VAE tokenizers; ``restart_dead_codes``): without it only 31 of 256 first-
  level codes were in use on Beauty after 30 epochs.
- The embeddings are centred and scaled to unit variance per entry first: unit-norm sentence embeddings
  have a reconstruction error so small next to the quantisation losses that the encoder collapsed every
  item onto one code (measured on Beauty with MiniLM).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from llmrec.checks import positive_int, positive_ints
from llmrec.errors import ConfigError
from llmrec.semantic_ids.kmeans import fit_centroids, nearest
from llmrec.semantic_ids.rqkmeans import LearnedCodes, unexplained


@dataclass(frozen=True)
class RqVaeSettings:
    """TIGER's RQ-VAE sizes (latent 32, hidden 512-256-128, beta 0.25); the training schedule is ours."""

    latent_dim: int = 32
    hidden_dims: tuple[int, ...] = (512, 256, 128)
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    beta: float = 0.25
    kmeans_iterations: int = 25
    restart_dead_codes: bool = True

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> RqVaeSettings:
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            known = sorted(cls.__dataclass_fields__)
            raise ConfigError(f"semantic_ids.rqvae has unknown keys {unknown}; known: {known}")
        if "hidden_dims" in values:
            values["hidden_dims"] = tuple(values["hidden_dims"])
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        numbers = {"latent_dim": self.latent_dim, "epochs": self.epochs, "batch_size": self.batch_size}
        positive_ints("semantic_ids.rqvae.", **numbers, kmeans_iterations=self.kmeans_iterations)
        for width in self.hidden_dims:
            positive_int(width, "semantic_ids.rqvae.hidden_dims[]")
        if not isinstance(self.restart_dead_codes, bool):
            value = self.restart_dead_codes
            raise ConfigError(f"semantic_ids.rqvae.restart_dead_codes must be true or false, got {value!r}")
        if not self.lr > 0 or not self.beta >= 0:
            raise ConfigError(f"semantic_ids.rqvae needs lr > 0 and beta >= 0, got {self.lr}, {self.beta}")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hidden_dims": list(self.hidden_dims)}


def squared_error(estimate: Tensor, target: Tensor) -> Tensor:
    """||estimate - target||^2 per row, averaged over the rows (the paper's losses)."""
    return (estimate - target).pow(2).sum(dim=1).mean()


def standardized(points: np.ndarray) -> Tensor:
    centred = points - points.mean(axis=0)
    scale = float(centred.std())
    return torch.from_numpy(np.ascontiguousarray(centred / (scale if scale > 0 else 1.0), dtype=np.float32))


def mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index, (width_in, width_out) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(width_in, width_out))
        if index < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@dataclass
class Quantized:
    codes: Tensor  # (B, levels)
    latent: Tensor  # (B, latent)
    quantized: Tensor  # (B, latent), the sum of the chosen code vectors, straight-through to the latent
    codebook_loss: Tensor
    commitment_loss: Tensor
    per_level: list[Tensor] = field(default_factory=list)  # cumulative quantised latent after each level


class RqVae(nn.Module):
    def __init__(self, input_dim: int, settings: RqVaeSettings, level_sizes: list[int]) -> None:
        super().__init__()
        widths = [input_dim, *settings.hidden_dims, settings.latent_dim]
        self.encoder = mlp(widths)
        self.decoder = mlp(widths[::-1])
        self.codebooks = nn.ParameterList(
            nn.Parameter(torch.zeros(size, settings.latent_dim)) for size in level_sizes
        )

    def quantize(self, latent: Tensor) -> Quantized:
        residual, total = latent, torch.zeros_like(latent)
        codes, per_level = [], []
        codebook_loss = commitment_loss = latent.new_zeros(())
        for codebook in self.codebooks:
            code = torch.cdist(residual.detach(), codebook.detach()).argmin(dim=1)  # (B,)
            chosen = codebook[code]  # (B, latent)
            codebook_loss = codebook_loss + squared_error(chosen, residual.detach())
            commitment_loss = commitment_loss + squared_error(residual, chosen.detach())
            residual = residual - chosen.detach()
            total = total + chosen
            codes.append(code)
            per_level.append(total.detach())
        straight_through = latent + (total - latent).detach()
        return Quantized(
            torch.stack(codes, dim=1), latent, straight_through, codebook_loss, commitment_loss, per_level
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Quantized]:
        quantized = self.quantize(self.encoder(x))  # latent (B, latent)
        return self.decoder(quantized.quantized), quantized  # (B, D)


@torch.no_grad()
def init_codebooks(model: RqVae, x: Tensor, seed: int, iterations: int) -> None:
    """Each level's codebook from k-means of the catalog's residuals at that level (encoder at init); a
    level gets fewer codes where its residuals have fewer distinct rows (a tiny catalog)."""
    residual = model.encoder(x).numpy()  # (N, latent)
    for level, codebook in enumerate(model.codebooks):
        centroids = fit_centroids(residual, codebook.shape[0], seed + level, iterations)  # (k, latent)
        model.codebooks[level] = nn.Parameter(torch.from_numpy(centroids))
        residual = residual - centroids[nearest(residual, centroids)]


def batches(count: int, size: int, generator: torch.Generator) -> list[Tensor]:
    return list(torch.randperm(count, generator=generator).split(size))


def train_epoch(
    model: RqVae,
    x: Tensor,
    optimizer: torch.optim.Optimizer,
    beta: float,
    order: list[Tensor],
    used: list[Tensor],
) -> list[float]:
    """One pass over ``x`` in the batches ``order``; the mean reconstruction and quantisation losses. Marks
    the codes chosen in ``used`` (one bool mask per level)."""
    totals = torch.zeros(2)
    for index in order:
        batch = x[index]  # (B, D)
        reconstruction, quantized = model(batch)
        for level, codebook in enumerate(model.codebooks):
            used[level] |= torch.bincount(quantized.codes[:, level], minlength=codebook.shape[0]) > 0
        reconstruction_loss = squared_error(reconstruction, batch)
        quantization_loss = quantized.codebook_loss + beta * quantized.commitment_loss
        optimizer.zero_grad(set_to_none=True)
        (reconstruction_loss + quantization_loss).backward()
        optimizer.step()
        totals += torch.stack([reconstruction_loss.detach(), quantization_loss.detach()]) * len(index)
    return (totals / x.shape[0]).tolist()


@torch.no_grad()
def restart_dead_codes(model: RqVae, x: Tensor, used: list[Tensor], generator: torch.Generator) -> int:
    """Move each code no item chose in the last epoch onto a random item's residual at its level; the
    number of codes moved."""
    quantized = model.quantize(model.encoder(x))
    latent = quantized.latent  # (N, latent)
    before = [torch.zeros_like(latent), *quantized.per_level[:-1]]  # the levels above, summed
    moved = 0
    for level, codebook in enumerate(model.codebooks):
        dead = torch.nonzero(~used[level]).flatten()
        if len(dead):
            rows = torch.randint(x.shape[0], (len(dead),), generator=generator)
            codebook[dead] = (latent - before[level])[rows]
            moved += len(dead)
    return moved


@torch.no_grad()
def evaluate(model: RqVae, x: Tensor) -> LearnedCodes:
    reconstruction, quantized = model(x)
    latent = quantized.latent.numpy()
    return LearnedCodes(
        codes=quantized.codes.numpy().astype(np.int64),
        level_sizes=tuple(codebook.shape[0] for codebook in model.codebooks),
        reconstruction={
            "latent_unexplained_per_level": [unexplained(latent, q.numpy()) for q in quantized.per_level],
            "embedding_unexplained": unexplained(x.numpy(), reconstruction.numpy()),
        },
    )


def train_rqvae(
    points: np.ndarray, levels: int, codebook_size: int, seed: int, settings: RqVaeSettings
) -> LearnedCodes:
    """Train an RQ-VAE on ``points`` (N, D) from ``seed`` (the same seed, the same codes on a CPU) and
    return the codes of every point with the loss after each epoch."""
    x = standardized(points)  # (N, D)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # the weights' init draws from the global RNG: keep it ours
        torch.manual_seed(seed)
        model = RqVae(x.shape[1], settings, [codebook_size] * levels)
    init_codebooks(model, x, seed, settings.kmeans_iterations)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    history, restarted = [], 0
    for _ in range(settings.epochs):
        order = batches(x.shape[0], settings.batch_size, generator)
        used = [torch.zeros(codebook.shape[0], dtype=torch.bool) for codebook in model.codebooks]
        history.append(train_epoch(model, x, optimizer, settings.beta, order, used))
        if settings.restart_dead_codes:
            restarted += restart_dead_codes(model, x, used, generator)
    learned = evaluate(model, x)
    learned.training = {
        "epochs": settings.epochs,
        "dead_codes_restarted": restarted,
        "reconstruction_loss": [round(r, 6) for r, _ in history],
        "quantization_loss": [round(q, 6) for _, q in history],
    }
    return learned
