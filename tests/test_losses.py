"""The chunked full-softmax cross-entropy equals the plain one, in value and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.models.layers import losses
from llmrec.models.layers.losses import FullSoftmaxCE
from llmrec.models.sasrec import SASRec


def reference(hidden: torch.Tensor, targets: torch.Tensor, table: torch.Tensor, bias: torch.Tensor | None):
    logits = hidden @ table.T
    if bias is not None:
        logits = logits + bias
    logits[:, 0] = float("-inf")
    return F.cross_entropy(logits, targets)


def leaves(seed: int, with_bias: bool) -> list[torch.Tensor | None]:
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(300, 16, generator=g, dtype=torch.float64)
    table = torch.randn(41, 16, generator=g, dtype=torch.float64) * 0.5
    bias = torch.randn(41, generator=g, dtype=torch.float64) if with_bias else None
    return [t if t is None else t.requires_grad_() for t in (hidden, table, bias)]


@pytest.mark.parametrize("with_bias", [False, True])
def test_chunked_ce_matches_cross_entropy(with_bias: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(losses, "CHUNK_ELEMENTS", 41 * 7)  # 64-row chunks: 300 rows span 5, the last short
    targets = torch.randint(1, 41, (300,), generator=torch.Generator().manual_seed(1))
    got_leaves, want_leaves = leaves(0, with_bias), leaves(0, with_bias)
    got = FullSoftmaxCE()(got_leaves[0], targets, got_leaves[1], got_leaves[2])
    want = reference(want_leaves[0], targets, want_leaves[1], want_leaves[2])
    (3.0 * got).backward()
    (3.0 * want).backward()
    assert got.item() == pytest.approx(want.item(), rel=1e-9)
    for g, w in zip(got_leaves, want_leaves, strict=True):
        if w is not None:
            assert g.grad.dtype == w.dtype
            torch.testing.assert_close(g.grad, w.grad, rtol=1e-9, atol=1e-12)
    assert got_leaves[1].grad[0].abs().sum() == 0  # padding row: never a target, never in the softmax


def test_chunked_ce_under_bf16_autocast_stays_close() -> None:
    hidden, table, _ = leaves(2, with_bias=False)
    hidden, table = hidden.detach().float().requires_grad_(), table.detach().float().requires_grad_()
    targets = torch.randint(1, 41, (300,), generator=torch.Generator().manual_seed(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = FullSoftmaxCE()(hidden, targets, table)
    got.backward()
    assert got.dtype == torch.float32 and hidden.grad.dtype == torch.float32
    assert got.item() == pytest.approx(
        reference(hidden.detach(), targets, table.detach(), None).item(), rel=0.02
    )


def test_chunked_ce_without_gradients_gives_the_same_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(losses, "CHUNK_ELEMENTS", 41 * 7)
    hidden, table, bias = (t.detach() for t in leaves(4, with_bias=True))
    targets = torch.randint(1, 41, (300,), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        got = FullSoftmaxCE()(hidden, targets, table, bias)
    assert not got.requires_grad
    assert got.item() == pytest.approx(reference(hidden, targets, table, bias).item(), rel=1e-9)


def test_sasrec_last_target_loss_is_the_cross_entropy_of_the_last_position() -> None:
    torch.manual_seed(0)
    model = SASRec(20, 5, hidden=8, layers=1, heads=1, inner=8, train_targets="last").eval()
    items = torch.tensor([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 7]])
    h = model.encoder(items[:, :-1])[:, -1]
    logits = h @ model.encoder.item_emb.weight[1:].T
    expected = F.cross_entropy(logits, items[:, -1] - 1)
    assert torch.allclose(model.loss(SeqBatch(items)), expected, atol=1e-6)
    with pytest.raises(ConfigError, match="train_targets"):
        SASRec(20, 5, train_targets="first")


class _TargetRecorder(torch.nn.Module):
    """A stand-in objective that records which targets the loss was asked to train on."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[int]] = []

    def forward(self, h: torch.Tensor, targets: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        self.seen.append(targets.tolist())
        return h.sum()


def test_sasrec_trains_only_on_new_targets_of_overlapping_windows() -> None:
    recorder = _TargetRecorder()
    model = SASRec(20, 5, hidden=8, layers=1, heads=1, inner=8, loss=recorder)
    items = torch.tensor([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 7]])
    model.loss(SeqBatch(items))
    model.loss(SeqBatch(items, new_targets=torch.tensor([5, 2])))
    assert recorder.seen == [[4, 5, 6, 2, 3, 4, 5, 7], [4, 5, 6, 5, 7]]
