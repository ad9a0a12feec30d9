"""Next-item objectives over hidden states and an item embedding table. A model takes one of these as
its ``loss`` argument; the config picks it by ``_target_``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

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
