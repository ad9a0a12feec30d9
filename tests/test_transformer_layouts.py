"""The encoder's block layouts and position schemes against the formulas they claim to implement."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmrec.errors import ConfigError
from llmrec.models.layers.transformer import SequenceEncoder, TransformerBlock, attention_mask

HIDDEN, HEADS, LENGTH = 8, 2, 5


def by_hand_attention(block: TransformerBlock, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Causal multi-head attention written out: queries from one stream, keys and values from another."""
    w, b = block.attn.qkv.weight, block.attn.qkv.bias
    q = queries @ w[:HIDDEN].T + b[:HIDDEN]
    k = keys @ w[HIDDEN : 2 * HIDDEN].T + b[HIDDEN : 2 * HIDDEN]
    v = keys @ w[2 * HIDDEN :].T + b[2 * HIDDEN :]
    d = HIDDEN // HEADS
    heads = []
    for h in range(HEADS):
        part = slice(h * d, (h + 1) * d)
        logits = q[:, :, part] @ k[:, :, part].transpose(1, 2) / math.sqrt(d)
        logits = logits.masked_fill(~torch.ones(LENGTH, LENGTH, dtype=torch.bool).tril(), float("-inf"))
        heads.append(logits.softmax(-1) @ v[:, :, part])
    return block.attn.out(torch.cat(heads, dim=-1))


def test_original_layout_normalises_queries_only_and_adds_to_the_normalised_stream() -> None:
    torch.manual_seed(0)
    block = TransformerBlock(HIDDEN, HEADS, HIDDEN, 0.0, 0.0, norm="original", activation="relu").eval()
    x = torch.randn(3, LENGTH, HIDDEN) * 3 + 1  # far from normalised, so LN(x) != x
    mask = attention_mask(torch.zeros(3, LENGTH, dtype=torch.bool), causal=True)

    q = block.norm1(x)
    after_attention = q + by_hand_attention(block, q, x)
    h = block.norm2(after_attention)
    first, second = block.ffn[0], block.ffn[-1]
    expected = h + second(F.relu(first(h)))

    torch.testing.assert_close(block(x, mask), expected)
    assert isinstance(block.ffn[1], torch.nn.ReLU) and isinstance(block.ffn[2], torch.nn.Dropout)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_post_and_pre_layouts_follow_their_formulas(norm: str) -> None:
    torch.manual_seed(0)
    block = TransformerBlock(HIDDEN, HEADS, 16, 0.0, 0.0, norm=norm).eval()
    x = torch.randn(2, LENGTH, HIDDEN) * 3 + 1
    mask = attention_mask(torch.zeros(2, LENGTH, dtype=torch.bool), causal=True)
    if norm == "pre":
        y = x + by_hand_attention(block, block.norm1(x), block.norm1(x))
        expected = y + block.ffn(block.norm2(y))
    else:
        y = block.norm1(x + by_hand_attention(block, x, x))
        expected = block.norm2(y + block.ffn(y))
    torch.testing.assert_close(block(x, mask), expected)


def test_ligr_layout_gates_each_residual_from_the_unnormalised_stream() -> None:
    torch.manual_seed(0)
    block = TransformerBlock(HIDDEN, HEADS, 16, 0.0, 0.0, norm="ligr", activation="swiglu").eval()
    x = torch.randn(2, LENGTH, HIDDEN) * 3 + 1
    mask = attention_mask(torch.zeros(2, LENGTH, dtype=torch.bool), causal=True)

    def swiglu(h: torch.Tensor) -> torch.Tensor:
        gate, up = (h @ block.ffn.gate_up.weight.T).chunk(2, dim=-1)
        return (F.silu(gate) * up) @ block.ffn.down.weight.T

    h = block.norm1(x)
    y = x + torch.sigmoid(block.gate1(x)) * by_hand_attention(block, h, h)
    expected = y + torch.sigmoid(block.gate2(y)) * swiglu(block.norm2(y))
    torch.testing.assert_close(block(x, mask), expected)
    assert block.ffn.gate_up.bias is None and block.ffn.down.bias is None


def test_swiglu_feed_forward_fits_any_layout() -> None:
    block = TransformerBlock(HIDDEN, HEADS, 16, 0.0, 0.0, norm="post", activation="swiglu")
    assert block.ffn.gate_up.weight.shape == (32, HIDDEN) and block.ffn.down.weight.shape == (HIDDEN, 16)


def encoder(positions: str, norm: str = "original") -> SequenceEncoder:
    torch.manual_seed(0)
    return SequenceEncoder(
        20,
        6,
        HIDDEN,
        2,
        HEADS,
        HIDDEN,
        0.0,
        0.0,
        causal=True,
        norm=norm,
        activation="relu",
        positions=positions,
    ).eval()


def test_positions_from_start_count_from_the_first_real_item() -> None:
    pad = torch.tensor([[True, True, False, False, False], [False, False, False, False, False]])
    ids = encoder("from_start").position_ids(pad)
    assert ids[0, 2:].tolist() == [0, 1, 2] and ids[1].tolist() == [0, 1, 2, 3, 4]
    assert encoder("from_end").position_ids(pad).tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("positions", ["from_start", "from_end"])
def test_left_padding_leaves_real_positions_unchanged(positions: str) -> None:
    net = encoder(positions)
    short = torch.tensor([[3, 7, 9]])
    padded = torch.tensor([[0, 0, 3, 7, 9]])
    with torch.no_grad():
        torch.testing.assert_close(net(padded)[:, -3:], net(short), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm", ["original", "ligr"])
def test_a_later_item_does_not_change_earlier_outputs(norm: str) -> None:
    net = encoder("from_start", norm)
    seq = torch.tensor([[3, 7, 9, 4, 2]])
    changed = seq.clone()
    changed[0, -1] = 11
    with torch.no_grad():
        torch.testing.assert_close(net(seq)[:, :-1], net(changed)[:, :-1])


@pytest.mark.parametrize(
    "key, value", [("norm", "sandwich"), ("activation", "swish"), ("positions", "middle")]
)
def test_an_unknown_layout_name_is_a_config_error_naming_the_choices(key: str, value: str) -> None:
    settings = {"norm": "post", "activation": "gelu", "positions": "from_end", key: value}
    with pytest.raises(ConfigError, match=f"model.{key} must be one of"):
        SequenceEncoder(20, 6, HIDDEN, 1, HEADS, 16, 0.0, 0.0, causal=True, **settings)
