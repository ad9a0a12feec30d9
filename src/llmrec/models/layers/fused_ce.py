"""Full-softmax cross-entropy through a maintained fused GPU kernel (cut-cross-entropy or Liger-Kernel):
the GPU alternative to :class:`llmrec.models.layers.losses.FullSoftmaxCE`, chosen by a model's ``loss``
config. The kernels are optional packages that need a CUDA GPU; without them it refuses in one line."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor, nn

from llmrec.errors import ConfigError

# The padding item's label for the fused kernels: left out of the loss and its mean (their default).
IGNORE_INDEX = -100
# A fused kernel: (hidden (M, D), table (N, D), bias (N,) or None, targets (M,) in 0..N-1 or
# IGNORE_INDEX) -> mean cross-entropy over the targets not ignored.
FusedKernel = Callable[[Tensor, Tensor, "Tensor | None", Tensor], Tensor]


def _cut_cross_entropy() -> FusedKernel:
    from cut_cross_entropy import linear_cross_entropy

    def call(hidden: Tensor, table: Tensor, bias: Tensor | None, targets: Tensor) -> Tensor:
        return linear_cross_entropy(
            hidden, table, targets, bias=bias, ignore_index=IGNORE_INDEX, reduction="mean"
        )

    return call


def _liger() -> FusedKernel:
    from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

    loss = LigerFusedLinearCrossEntropyLoss(ignore_index=IGNORE_INDEX, reduction="mean")
    return lambda hidden, table, bias, targets: loss(table, hidden, targets, bias)  # weight first


# kernel name -> (its loader, the package to pip install)
FUSED_KERNELS: dict[str, tuple[Callable[[], FusedKernel], str]] = {
    "cce": (_cut_cross_entropy, "cut-cross-entropy"),
    "liger": (_liger, "liger-kernel"),
}


class FusedLinearCE(nn.Module):
    """The loss of :class:`FullSoftmaxCE` through a maintained fused GPU kernel that never holds the
    (M, N) logits: ``kernel=cce``, Apple's cut-cross-entropy ``linear_cross_entropy`` (Wijmans et al.,
    ICLR 2025), or ``kernel=liger``, Liger-Kernel's ``LigerFusedLinearCrossEntropyLoss``. Both are
    Triton kernels for CUDA GPUs; FullSoftmaxCE stays the default and the CPU choice.

    Chosen per run where a model's config holds a ``loss`` (SASRec, GRU4Rec, HSTU):
    ``model.loss._target_=llmrec.models.layers.fused_ce.FusedLinearCE +model.loss.kernel=cce``.
    Row 0 (padding) is left out of the softmax as FullSoftmaxCE leaves it out; a padding target is
    ignored. Under autocast the hidden states and the table go to the kernel in the autocast dtype (the
    kernels run outside autocast); cut-cross-entropy's default gradient filtering skips softmax entries
    below that dtype's resolution, an approximation its paper measures as lossless."""

    device_types: ClassVar[tuple[str, ...]] = ("cuda",)

    def __init__(self, kernel: str = "cce") -> None:
        super().__init__()
        if kernel not in FUSED_KERNELS:
            raise ConfigError(
                f"FusedLinearCE kernel must be one of {sorted(FUSED_KERNELS)}, got {kernel!r}; "
                "e.g. +model.loss.kernel=cce"
            )
        load, package = FUSED_KERNELS[kernel]
        needs = (
            f"model.loss FusedLinearCE(kernel={kernel}) runs a Triton kernel on a CUDA GPU: it needs "
            f"`pip install {package}` (which brings triton) and a CUDA GPU; on a CPU keep "
            "model.loss._target_=llmrec.models.layers.losses.FullSoftmaxCE"
        )
        if not torch.cuda.is_available():
            raise ConfigError(f"{needs} (this machine has no CUDA device)")
        try:
            self._kernel = load()
        except ImportError as error:
            raise ConfigError(f"{needs} ({error})") from None
        self.kernel = kernel
        self._needs = needs

    def forward(
        self, hidden: Tensor, targets: Tensor, item_emb: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        device = hidden.device.type
        if device not in self.device_types:
            raise ConfigError(f"{self._needs} (this run's tensors are on {device}: trainer.accelerator=gpu)")
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype
        labels = torch.where(targets > 0, targets - 1, IGNORE_INDEX)  # (M,) row 0 left out
        table = item_emb[1:].to(dtype)  # (N, D)
        low_bias = None if bias is None else bias[1:].to(dtype)
        with torch.autocast(device, enabled=False):
            loss = self._kernel(hidden.to(dtype), table, low_bias, labels)
        return loss.to(torch.promote_types(loss.dtype, torch.float32))  # fp32 at least
