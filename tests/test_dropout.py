"""The cheap CPU dropout: the right keep rate, exact scaling, the right gradient, and attention with it
equal to PyTorch's own attention when nothing is dropped."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llmrec.models.layers.dropout import Dropout, cheap_dropout, keep_mask
from llmrec.models.layers.transformer import SelfAttention, attention_mask, explicit_attention


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_mask_keeps_one_minus_p_of_the_elements(p: float) -> None:
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([1000, 1000]), p, torch.device("cpu"))
    assert mask.shape == (1000, 1000) and mask.dtype == torch.bool
    assert mask.float().mean().item() == pytest.approx(1 - p, abs=0.002)  # 1e6 draws: sd ~0.0005


def test_keep_mask_has_no_pattern_along_rows_or_columns() -> None:
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([4000, 64]), 0.5, torch.device("cpu")).float()
    # each 64-bit draw feeds four neighbours: neither columns nor rows may inherit a bias from that
    assert mask.mean(dim=0).sub(0.5).abs().max().item() < 0.04
    assert mask[:, 0::4].mean().item() == pytest.approx(0.5, abs=0.01)
    assert (mask[:, 0::4] == mask[:, 1::4]).float().mean().item() == pytest.approx(0.5, abs=0.01)


def test_kept_elements_are_scaled_by_one_over_keep_and_dropped_ones_are_zero() -> None:
    torch.manual_seed(0)
    x = torch.rand(200, 300) + 0.5  # no zeros of its own
    y = cheap_dropout(x, 0.25, training=True)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / 0.75)
    assert kept.float().mean().item() == pytest.approx(0.75, abs=0.01)


def test_gradient_is_the_mask_times_the_scale() -> None:
    torch.manual_seed(0)
    x = torch.ones(100, 100, requires_grad=True)
    y = cheap_dropout(x, 0.2, training=True)
    y.sum().backward()
    assert torch.equal(x.grad, (y != 0).float() / 0.8)


def test_identity_outside_training_and_at_zero_rate() -> None:
    x = torch.randn(10, 10)
    assert cheap_dropout(x, 0.3, training=False) is x
    assert cheap_dropout(x, 0.0, training=True) is x
    module = Dropout(0.3).eval()
    assert module(x) is x
    assert torch.equal(cheap_dropout(x, 1.0, training=True), torch.zeros_like(x))


def test_seeded_masks_repeat() -> None:
    x = torch.randn(50, 50)
    torch.manual_seed(3)
    first = cheap_dropout(x, 0.5, training=True)
    torch.manual_seed(3)
    assert torch.equal(first, cheap_dropout(x, 0.5, training=True))


def test_explicit_attention_without_dropout_equals_scaled_dot_product_attention() -> None:
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 2, 6, 4) for _ in range(3))
    pad = torch.zeros(3, 6, dtype=torch.bool)
    pad[0, :2] = True
    mask = attention_mask(pad, causal=True)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(explicit_attention(q, k, v, mask, 0.0), expected, atol=1e-6)


def test_attention_dropout_in_training_drops_weights_and_trains() -> None:
    torch.manual_seed(0)
    attn = SelfAttention(8, 2, dropout=0.5).train()
    x = torch.randn(4, 6, 8, requires_grad=True)
    mask = attention_mask(torch.zeros(4, 6, dtype=torch.bool), causal=False)
    y = attn(x, mask)
    assert torch.isfinite(y).all()
    y.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert not torch.allclose(y, attn.eval()(x, mask))  # weights were dropped in training
