"""The block classes and position schemes against the formulas they claim to implement, and the encoder's
outputs for a fixed seed against the numbers of the code before blocks became classes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmrec.errors import ConfigError
from llmrec.models.layers.blocks import Block, LiGRBlock, OriginalBlock, PostNormBlock, PreNormBlock
from llmrec.models.layers.encoder import SequenceEncoder
from llmrec.models.layers.feed_forward import GeluMLP, ReluMLP, SwiGLU
from llmrec.models.layers.transformer import attention_mask

HIDDEN, HEADS, LENGTH = 8, 2, 5


def by_hand_attention(block: Block, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
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
    block = OriginalBlock(HIDDEN, HEADS, HIDDEN, 0.0, 0.0, feed_forward=ReluMLP).eval()
    x = torch.randn(3, LENGTH, HIDDEN) * 3 + 1  # far from normalised, so LN(x) != x
    mask = attention_mask(torch.zeros(3, LENGTH, dtype=torch.bool), causal=True)

    q = block.norm1(x)
    after_attention = q + by_hand_attention(block, q, x)
    h = block.norm2(after_attention)
    first, second = block.ffn[0], block.ffn[-1]
    expected = h + second(F.relu(first(h)))

    torch.testing.assert_close(block(x, mask), expected)
    assert isinstance(block.ffn[1], torch.nn.ReLU) and isinstance(block.ffn[2], torch.nn.Dropout)


@pytest.mark.parametrize("layout", [PostNormBlock, PreNormBlock])
def test_post_and_pre_layouts_follow_their_formulas(layout: type[Block]) -> None:
    torch.manual_seed(0)
    block = layout(HIDDEN, HEADS, 16, 0.0, 0.0).eval()
    x = torch.randn(2, LENGTH, HIDDEN) * 3 + 1
    mask = attention_mask(torch.zeros(2, LENGTH, dtype=torch.bool), causal=True)
    if layout is PreNormBlock:
        y = x + by_hand_attention(block, block.norm1(x), block.norm1(x))
        expected = y + block.ffn(block.norm2(y))
    else:
        y = block.norm1(x + by_hand_attention(block, x, x))
        expected = block.norm2(y + block.ffn(y))
    torch.testing.assert_close(block(x, mask), expected)


def test_ligr_layout_gates_each_residual_from_the_unnormalised_stream() -> None:
    torch.manual_seed(0)
    block = LiGRBlock(HIDDEN, HEADS, 16, 0.0, 0.0, feed_forward=SwiGLU).eval()
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
    block = PostNormBlock(HIDDEN, HEADS, 16, 0.0, 0.0, feed_forward=SwiGLU)
    assert block.ffn.gate_up.weight.shape == (32, HIDDEN) and block.ffn.down.weight.shape == (HIDDEN, 16)


def test_only_the_authors_layout_drops_out_after_the_mlp_activation() -> None:
    assert [type(m).__name__ for m in GeluMLP(HIDDEN, 16, 0.1)] == ["Linear", "GELU", "Linear"]
    for layout in (PostNormBlock, PreNormBlock, LiGRBlock):
        assert [type(m).__name__ for m in layout(HIDDEN, HEADS, 16, 0.1, 0.1, ReluMLP).ffn] == [
            "Linear",
            "ReLU",
            "Linear",
        ]
    assert [type(m).__name__ for m in OriginalBlock(HIDDEN, HEADS, 16, 0.1, 0.1, ReluMLP).ffn] == [
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]


LAYOUTS = [PostNormBlock, PreNormBlock, OriginalBlock, LiGRBlock]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("padding", [0, 2])
def test_each_block_keeps_the_shape_and_respects_the_causal_mask(layout: type[Block], padding: int) -> None:
    torch.manual_seed(0)
    block = layout(HIDDEN, HEADS, 16, 0.0, 0.0).eval()
    x = torch.randn(2, LENGTH, HIDDEN)
    pad = torch.zeros(2, LENGTH, dtype=torch.bool)
    pad[:, :padding] = True
    mask = attention_mask(pad, causal=True)
    changed = x.clone()
    changed[:, -1] += 5.0  # a later position must not reach earlier ones
    with torch.no_grad():
        y = block(x, mask)
        assert y.shape == x.shape
        torch.testing.assert_close(block(changed, mask)[:, :-1], y[:, :-1])
        assert not torch.allclose(block(changed, mask)[:, -1], y[:, -1])


# Outputs of SequenceEncoder(20, 6, hidden 8, 2 layers, 2 heads, inner 16, dropout 0.1, causal), seed 0,
# computed with the code before the layouts became classes (norm=post|pre|original|ligr with activation
# gelu|gelu|relu|swiglu): the last position's first three features of both rows, the sum of |output| in
# eval mode, and in training mode after torch.manual_seed(1) (the dropout draws). Same weights, same
# numbers, so the same seed gives the same runs.
BEFORE = {
    PostNormBlock: (GeluMLP, [0.6385, 0.3876, -0.239, 1.4108, -0.9887, -1.2399], 81.727, 76.101),
    PreNormBlock: (GeluMLP, [0.7727, 1.0974, -0.1161, 1.8604, -0.1327, -1.421], 81.35, 78.62),
    OriginalBlock: (ReluMLP, [0.7767, 1.0723, -0.1739, 1.8659, -0.1859, -1.43], 81.907, 79.079),
    LiGRBlock: (SwiGLU, [0.5069, 0.6481, -0.7454, -1.0892, 1.3825, 1.8363], 79.174, 80.521),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_gives_the_numbers_of_the_code_before(layout: type[Block]) -> None:
    feed_forward, last, eval_sum, train_sum = BEFORE[layout]
    torch.manual_seed(0)
    net = SequenceEncoder(
        20, 6, HIDDEN, 2, HEADS, 16, 0.1, 0.1, True, block=layout, feed_forward=feed_forward
    )
    seq = torch.tensor([[0, 3, 7, 9, 4, 2], [0, 0, 0, 5, 11, 19]])
    with torch.no_grad():
        y = net.eval()(seq)
        torch.manual_seed(1)
        z = net.train()(seq)
    assert y[:, -1, :3].flatten().tolist() == pytest.approx(last, abs=1e-4)
    assert y.abs().sum().item() == pytest.approx(eval_sum, abs=1e-3)
    assert z.abs().sum().item() == pytest.approx(train_sum, abs=1e-3)


def encoder(positions: str, layout: type[Block] = OriginalBlock) -> SequenceEncoder:
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
        block=layout,
        feed_forward=ReluMLP,
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


@pytest.mark.parametrize("layout", [OriginalBlock, LiGRBlock])
def test_a_later_item_does_not_change_earlier_outputs(layout: type[Block]) -> None:
    net = encoder("from_start", layout)
    seq = torch.tensor([[3, 7, 9, 4, 2]])
    changed = seq.clone()
    changed[0, -1] = 11
    with torch.no_grad():
        torch.testing.assert_close(net(seq)[:, :-1], net(changed)[:, :-1])


def test_an_unknown_position_scheme_is_a_config_error_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"model\.positions must be one of from_end, from_start"):
        SequenceEncoder(20, 6, HIDDEN, 1, HEADS, 16, 0.0, 0.0, causal=True, positions="middle")


def test_a_block_target_that_is_not_a_block_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"model\.block must build a llmrec\.models\.layers\.blocks\.Block"):
        SequenceEncoder(
            20, 6, HIDDEN, 1, HEADS, 16, 0.0, 0.0, causal=True, block=lambda **_: torch.nn.Identity()
        )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_attributes_decide_embedding_scale_final_norm_and_attention_init(layout: type[Block]) -> None:
    torch.manual_seed(0)
    net = SequenceEncoder(20, 6, HIDDEN, 2, HEADS, 16, 0.0, 0.0, causal=True, block=layout).eval()
    seq = torch.tensor([[0, 3, 7, 9, 4, 2]])
    items = net.item_emb(seq) * (HIDDEN**0.5 if layout is not PostNormBlock else 1.0)
    x = items + net.pos_emb(net.position_ids(seq == 0))
    x = x if layout is not PostNormBlock else net.norm(x)
    mask = attention_mask(seq == 0, causal=True)
    for block in net.blocks:
        x = block(x, mask)
    expected = net.norm(x) if layout is not PostNormBlock else x
    with torch.no_grad():
        torch.testing.assert_close(net(seq), expected)
    # N(0, 0.02) everywhere, except the Xavier-uniform q/k/v of the authors' and LiGR's attention
    qkv_std = net.blocks[0].attn.qkv.weight.std().item()
    assert (qkv_std > 0.1) == (layout in (OriginalBlock, LiGRBlock))
