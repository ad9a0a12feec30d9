"""FusedLinearCE (model.loss through cut-cross-entropy or Liger-Kernel): one clear refusal where the
kernel or CUDA is missing, and, with each kernel's entry point replaced by a reference implementation of
its documented signature, the same loss and gradients as the chunked FullSoftmaxCE."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from llmrec.errors import ConfigError
from llmrec.models.layers.fused_ce import FusedLinearCE
from llmrec.models.layers.losses import FullSoftmaxCE
from llmrec.run.pipeline import build_model
from tests.conftest import compose_config

FUSED = "model.loss._target_=llmrec.models.layers.fused_ce.FusedLinearCE"


@pytest.mark.parametrize("kernel, package", [("cce", "cut-cross-entropy"), ("liger", "liger-kernel")])
def test_without_cuda_the_config_is_refused_in_one_line(kernel: str, package: str, tmp_path: Path) -> None:
    cfg = compose_config(["model=sasrec", FUSED, f"+model.loss.kernel={kernel}"], tmp_path)
    with pytest.raises(ConfigError, match=f"pip install {package}.*CUDA GPU") as error:
        build_model(cfg, num_items=20, max_len=5)
    assert "FullSoftmaxCE" in str(error.value) and "no CUDA device" in str(error.value)


def test_with_cuda_but_no_package_the_install_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setitem(sys.modules, "liger_kernel", None)  # not importable, whatever is installed
    with pytest.raises(ConfigError, match="pip install liger-kernel") as error:
        FusedLinearCE("liger")
    assert "No module named" in str(error.value)


def test_unknown_kernel() -> None:
    with pytest.raises(ConfigError, match="one of \\['cce', 'liger'\\]"):
        FusedLinearCE("flash")


def reference_cce(
    e: Tensor, c: Tensor, targets: Tensor, bias: Tensor | None = None, ignore_index: int = -100, **kw: Any
) -> Tensor:
    """cut_cross_entropy.linear_cross_entropy's documented meaning, in plain torch."""
    assert e.dtype == c.dtype and kw == {"reduction": "mean"}
    reference_cce.dtypes = (e.dtype, c.dtype)  # type: ignore[attr-defined]
    logits = e @ c.T + (0 if bias is None else bias)
    return F.cross_entropy(logits, targets, ignore_index=ignore_index, reduction=kw["reduction"])


class ReferenceLiger:
    """liger_kernel.transformers.LigerFusedLinearCrossEntropyLoss: (weight, input, target, bias)."""

    def __init__(self, ignore_index: int = -100, reduction: str = "mean") -> None:
        self.ignore_index, self.reduction = ignore_index, reduction

    def __call__(self, weight: Tensor, hidden: Tensor, target: Tensor, bias: Tensor | None = None) -> Tensor:
        logits = hidden @ weight.T + (0 if bias is None else bias)
        return F.cross_entropy(logits, target, ignore_index=self.ignore_index, reduction=self.reduction)


@pytest.fixture
def kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both kernels 'installed' as their reference implementations, CUDA 'available', CPU tensors let
    through (the kernels themselves are Triton, CUDA only)."""
    cce = ModuleType("cut_cross_entropy")
    cce.linear_cross_entropy = reference_cce  # type: ignore[attr-defined]
    liger, transformers = ModuleType("liger_kernel"), ModuleType("liger_kernel.transformers")
    transformers.LigerFusedLinearCrossEntropyLoss = ReferenceLiger  # type: ignore[attr-defined]
    liger.transformers = transformers  # type: ignore[attr-defined]
    for name, module in [
        ("cut_cross_entropy", cce),
        ("liger_kernel", liger),
        ("liger_kernel.transformers", transformers),
    ]:
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(FusedLinearCE, "device_types", ("cuda", "cpu"))


def leaves(with_bias: bool) -> list[Tensor | None]:
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(50, 8, generator=g, dtype=torch.float64)
    table = torch.randn(31, 8, generator=g, dtype=torch.float64) * 0.5
    bias = torch.randn(31, generator=g, dtype=torch.float64) if with_bias else None
    return [t if t is None else t.requires_grad_() for t in (hidden, table, bias)]


@pytest.mark.usefixtures("kernels")
@pytest.mark.parametrize("kernel", ["cce", "liger"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_the_fused_loss_equals_the_chunked_ce(kernel: str, with_bias: bool) -> None:
    targets = torch.randint(1, 31, (50,), generator=torch.Generator().manual_seed(1))
    targets[[3, 17]] = 0  # padding positions: ignored, out of the mean
    kept = targets != 0
    got_leaves, want_leaves = leaves(with_bias), leaves(with_bias)
    got = FusedLinearCE(kernel)(got_leaves[0], targets, got_leaves[1], got_leaves[2])
    hidden, table, bias = want_leaves
    want = FullSoftmaxCE()(hidden[kept], targets[kept], table, bias)  # type: ignore[index]
    (2.0 * got).backward()
    (2.0 * want).backward()
    assert got.item() == pytest.approx(want.item(), rel=1e-9)
    for g, w in zip(got_leaves, want_leaves, strict=True):
        if w is not None:
            torch.testing.assert_close(g.grad, w.grad, rtol=1e-9, atol=1e-12)
    assert got_leaves[1].grad[0].abs().sum() == 0  # padding row: never in the softmax
    assert got_leaves[0].grad[[3, 17]].abs().sum() == 0


@pytest.mark.usefixtures("kernels")
def test_under_autocast_the_kernel_gets_the_autocast_dtype() -> None:
    hidden, table, _ = leaves(False)
    hidden, table = hidden.detach().float(), table.detach().float()
    targets = torch.randint(1, 31, (50,), generator=torch.Generator().manual_seed(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = FusedLinearCE("cce")(hidden, targets, table)
    assert reference_cce.dtypes == (torch.bfloat16, torch.bfloat16)  # type: ignore[attr-defined]
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(FullSoftmaxCE()(hidden, targets, table).item(), rel=0.02)


def test_cpu_tensors_are_refused_in_one_line(kernels: None, monkeypatch: pytest.MonkeyPatch) -> None:
    loss = FusedLinearCE("cce")
    monkeypatch.setattr(FusedLinearCE, "device_types", ("cuda",))
    hidden, table, _ = leaves(False)
    with pytest.raises(ConfigError, match=r"tensors are on cpu: trainer\.accelerator=gpu"):
        loss(hidden, torch.ones(50, dtype=torch.long), table)
