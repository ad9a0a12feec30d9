"""Next-item objectives over hidden states and an item embedding table. A model takes one of these as
its ``loss`` argument; the config picks it by ``_target_``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmrec.errors import ConfigError

CHUNK_ELEMENTS = 1 << 22  # logits held at once by FullSoftmaxCE: 16 MiB in fp32, cache-sized on a CPU


class FullSoftmaxCE(nn.Module):
    """Cross-entropy over the whole catalog (the strong default for SASRec, the BERT4Rec objective).

    Computed in chunks of rows by :class:`ChunkedSoftmaxCE`: the (M, N) logit matrix is never held, so
    memory stays flat as the catalog grows, and on a CPU the chunks stay in cache (1.4-2.0x faster than
    ``F.cross_entropy`` on 2 cores, benchmarks/results/ce_chunked.txt)."""

    def forward(
        self, hidden: Tensor, targets: Tensor, item_emb: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        device = hidden.device.type
        autocast = torch.is_autocast_enabled(device)
        matmul_dtype = torch.get_autocast_dtype(device) if autocast else hidden.dtype
        rows = max(64, CHUNK_ELEMENTS // item_emb.shape[0])
        grads = torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (hidden, item_emb, bias)
        )
        # Row 0 (padding) is never a target: it is left out of the softmax rather than masked to -inf.
        return ChunkedSoftmaxCE.apply(
            hidden, item_emb[1:], None if bias is None else bias[1:], targets - 1, rows, matmul_dtype, grads
        )


class ChunkedSoftmaxCE(torch.autograd.Function):
    """Mean of ``F.cross_entropy(hidden @ table.T + bias, targets)`` with its gradients formed in the
    forward pass, one chunk of rows at a time; backward only scales them."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        hidden: Tensor,
        table: Tensor,
        bias: Tensor | None,
        targets: Tensor,
        rows: int,
        matmul_dtype: torch.dtype,
        grads: bool,
    ) -> Tensor:
        with torch.autocast(hidden.device.type, enabled=False):
            n = hidden.shape[0]
            acc = torch.promote_types(matmul_dtype, torch.float32)  # softmax and sums: fp32 at least
            h, w = hidden.to(matmul_dtype), table.to(matmul_dtype)
            grad_h = torch.empty(hidden.shape, dtype=acc, device=hidden.device)
            grad_w = torch.zeros(table.shape, dtype=acc, device=hidden.device)
            grad_b = None if bias is None else torch.zeros(bias.shape, dtype=acc, device=bias.device)
            total = torch.zeros((), dtype=acc, device=hidden.device)
            for start in range(0, n, rows):
                hc, tc = h[start : start + rows], targets[start : start + rows]
                logits = (hc @ w.T).to(acc)  # (r, N)
                if bias is not None:
                    logits += bias.to(acc)
                picked = torch.arange(tc.shape[0], device=tc.device)
                target_logits = logits[picked, tc]
                # One exp pass serves both the loss and the softmax: the chunk is shifted by its row
                # maxima and exponentiated in place (logsumexp followed by a softmax would take two).
                row_max = logits.amax(dim=1, keepdim=True)
                exp = logits.sub_(row_max).exp_()
                sums = exp.sum(dim=1)
                total += (row_max.squeeze(1) + sums.log() - target_logits).sum()
                if not grads:  # the loss alone (no_grad, or nothing to train): one matmul per chunk
                    continue
                grad = exp.mul_((sums * n).reciprocal_()[:, None])  # softmax / n, in place
                grad[picked, tc] -= 1.0 / n
                if matmul_dtype == acc:  # accumulate in place: no (N, D) temporary per chunk
                    torch.mm(grad, w, out=grad_h[start : start + rows])
                    grad_w.addmm_(grad.T, hc)
                else:
                    low = grad.to(matmul_dtype)
                    grad_h[start : start + rows] = low @ w
                    grad_w += (low.T @ hc).to(acc)
                if grad_b is not None:
                    grad_b += grad.sum(dim=0)
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        ctx.dtypes = (hidden.dtype, table.dtype, None if bias is None else bias.dtype)
        return total / n

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_loss: Tensor) -> tuple:
        scaled = [
            None if g is None else (g * grad_loss).to(dtype)
            for g, dtype in zip(ctx.saved_tensors, ctx.dtypes, strict=True)
        ]
        return (*scaled, None, None, None, None)


class SampledBCE(nn.Module):
    """The original SASRec objective: binary cross-entropy of the target against uniformly sampled
    negatives (a negative equal to the target is resampled once, then kept: rare with a large catalog)."""

    def __init__(self, num_negatives: int = 1) -> None:
        super().__init__()
        if num_negatives <= 0:
            raise ValueError(f"num_negatives must be positive, got {num_negatives}")
        self.num_negatives = num_negatives

    def forward(
        self, hidden: Tensor, targets: Tensor, item_emb: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        num_items = item_emb.shape[0] - 1
        shape = (targets.shape[0], self.num_negatives)
        negatives = torch.randint(1, num_items + 1, shape, device=targets.device)
        clash = negatives == targets[:, None]
        negatives = torch.where(
            clash, torch.randint(1, num_items + 1, shape, device=targets.device), negatives
        )
        pos = (hidden * item_emb[targets]).sum(-1)  # (M,)
        neg = torch.einsum("md,mkd->mk", hidden, item_emb[negatives])  # (M, K)
        if bias is not None:
            pos, neg = pos + bias[targets], neg + bias[negatives]
        return F.binary_cross_entropy_with_logits(
            pos, torch.ones_like(pos)
        ) + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg))


def bind_loss_counts(loss: nn.Module, counts: Tensor) -> None:
    """Hand the training item counts (N+1,) to a loss that asks for them (``bind_item_counts``, duck-typed:
    e.g. :class:`SampledSoftmaxCE`'s logQ correction); other losses are left as they are. Models call it
    from ``bind_data``."""
    bind = getattr(loss, "bind_item_counts", None)
    if callable(bind):
        bind(counts)


class SampledSoftmaxCE(nn.Module):
    """Cross-entropy of the target against a sample of negatives, as HSTU trains (Zhai et al., ICML 2024;
    meta-recsys/generative-recommenders): ``in_batch`` adds the other targets of the batch as negatives,
    ``num_negatives`` adds that many distinct items drawn uniformly from the catalog (without replacement,
    one draw shared by every row of the batch, unlike HSTU's draw per row; ``num_negatives`` >= N takes the
    whole catalog). A negative equal to the row's target (an accidental hit) is masked out. The logits are
    one (M, M + num_negatives) matrix for M trained positions: in-batch negatives grow it quadratically.

    Added to HSTU's loss, the logQ correction (``logq``, Yi et al., RecSys 2019; Yang et al., WWW 2020 for
    the mixture of in-batch and uniform negatives): every logit, the target's too, is lowered by the log of
    the item's expected count in the sample, ``M * p(item) + num_negatives / N`` for a batch of M targets,
    where ``p`` is the item's share of the training targets (the counts a model binds through
    :func:`bind_loss_counts`; an item counted zero times is taken as counted once) and ``1/N`` the uniform
    probability. With one source the correction is
    the log of the sampling probability up to a constant: popularity for in-batch, none for uniform.
    ``temperature`` divides the logits (after the correction, which stays a log-probability).

    Chosen per run, for SASRec and GRU4Rec (their configs hold a ``loss``):
    ``model.loss._target_=llmrec.models.layers.losses.SampledSoftmaxCE +model.loss.num_negatives=256
    +model.loss.in_batch=true``; for BERT4Rec, whose config holds none, ``+model.loss._target_=...``."""

    def __init__(
        self, num_negatives: int = 256, in_batch: bool = False, logq: bool = True, temperature: float = 1.0
    ) -> None:
        super().__init__()
        if isinstance(num_negatives, bool) or not isinstance(num_negatives, int) or num_negatives < 0:
            raise ConfigError(f"SampledSoftmaxCE num_negatives must be an integer >= 0, got {num_negatives}")
        if num_negatives == 0 and not in_batch:
            raise ConfigError(
                "SampledSoftmaxCE has no negatives: set num_negatives > 0 (uniform) or in_batch=true"
            )
        if not temperature > 0:
            raise ConfigError(f"SampledSoftmaxCE temperature must be positive, got {temperature}")
        self.num_negatives = num_negatives
        self.in_batch = in_batch
        self.logq = logq
        self.temperature = temperature
        # log of each item's share of the training targets; a buffer so it follows the model's device,
        # not saved: it comes from the data, bound again before every fit
        self.register_buffer("log_popularity", None, persistent=False)

    def bind_item_counts(self, counts: Tensor) -> None:
        popularity = counts.double().clamp(min=1.0)
        self.log_popularity = (popularity / popularity[1:].sum()).log().float()

    def _uniform_negatives(self, num_items: int, device: torch.device) -> Tensor:
        if self.num_negatives >= num_items:
            return torch.arange(1, num_items + 1, device=device)
        return torch.randperm(num_items, device=device)[: self.num_negatives] + 1

    def _log_expected_counts(self, items: Tensor, rows: int, num_items: int) -> Tensor:
        """log of each of ``items``' expected count in a sample drawn for ``rows`` targets."""
        uniform = min(self.num_negatives, num_items) / num_items
        if not self.in_batch:
            return torch.full(items.shape, math.log(uniform), device=items.device)
        if self.log_popularity is None:
            raise ConfigError(
                "SampledSoftmaxCE(in_batch=true, logq=true) corrects in-batch negatives by item popularity, "
                "but no item counts were bound: the model must call "
                "llmrec.models.layers.losses.bind_loss_counts(loss, counts) in bind_data (SASRec, BERT4Rec "
                "and GRU4Rec do), or set model.loss.logq=false"
            )
        in_batch = self.log_popularity.to(items.device)[items] + math.log(rows)
        return (
            torch.logaddexp(in_batch, torch.full_like(in_batch, math.log(uniform)))
            if uniform > 0
            else in_batch
        )

    def forward(
        self, hidden: Tensor, targets: Tensor, item_emb: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        num_items = item_emb.shape[0] - 1
        parts = [targets] if self.in_batch else []
        if self.num_negatives > 0:
            parts.append(self._uniform_negatives(num_items, targets.device))
        candidates = torch.cat(parts)  # (C,)
        pos = (hidden * item_emb[targets]).sum(-1)  # (M,)
        neg = hidden @ item_emb[candidates].T  # (M, C)
        acc = torch.promote_types(
            neg.dtype, torch.float32
        )  # softmax in fp32 at least (autocast: bf16 logits)
        pos, neg = pos.to(acc), neg.to(acc)
        if bias is not None:
            pos, neg = pos + bias[targets], neg + bias[candidates]
        if self.logq:
            pos = pos - self._log_expected_counts(targets, targets.shape[0], num_items)
            neg = neg - self._log_expected_counts(candidates, targets.shape[0], num_items)
        # the row's own in-batch column and any other copy of its target: the target counts once, as pos
        neg = neg.masked_fill(candidates[None, :] == targets[:, None], float("-inf"))
        logits = torch.cat([pos[:, None], neg], dim=1) / self.temperature  # (M, 1 + C)
        return (logits.logsumexp(dim=1) - logits[:, 0]).mean()
