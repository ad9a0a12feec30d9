"""Next-item objectives over hidden states and an item embedding table. A model takes one of these as
its ``loss`` argument; the config picks it by ``_target_``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FullSoftmaxCE(nn.Module):
    """Cross-entropy over the whole catalog (the strong default for SASRec, the BERT4Rec objective)."""

    def forward(
        self, hidden: Tensor, targets: Tensor, item_emb: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        logits = hidden @ item_emb.T  # (M, N+1)
        if bias is not None:
            logits = logits + bias
        logits[:, 0] = float("-inf")  # padding is never a target
        return F.cross_entropy(logits, targets)


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
