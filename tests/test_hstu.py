"""HSTU (llmrec.models.hstu): the layer against its formula, causality, padding, and that it learns."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.models.hstu import HSTU
from llmrec.models.layers.hstu import HSTUBlock, pointwise_attention
from llmrec.models.layers.losses import FullSoftmaxCE
from llmrec.models.layers.transformer import attention_mask


def by_hand_block(block: HSTUBlock, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
    """The block's output written from the formula, one (row, head, query) at a time."""
    h, dqk, dv, n = block.heads, block.qk_dim, block.v_dim, block.max_len
    out = torch.zeros_like(x)
    for b in range(x.shape[0]):
        proj = F.silu(F.layer_norm(x[b], x.shape[-1:], eps=1e-6) @ block.uvqk.weight.T)
        u, v, q, k = proj.split([h * dv, h * dv, h * dqk, h * dqk], dim=-1)
        attn = torch.zeros(x.shape[1], h * dv)
        for head in range(h):
            qs, ks = slice(head * dqk, (head + 1) * dqk), slice(head * dv, (head + 1) * dv)
            for i in range(x.shape[1]):
                for j in range(i + 1):  # causal: keys up to the query
                    if pad[b, j] and j != i:  # padding keys are never read (a query may read itself)
                        continue
                    weight = F.silu(q[i, qs] @ k[j, qs] + block.rab.weight[i - j]) / n
                    attn[i, ks] += weight * v[j, ks]
        gated = u * F.layer_norm(attn, attn.shape[-1:], eps=1e-6)
        out[b] = x[b] + gated @ block.out.weight.T + block.out.bias
    return out


def test_block_is_the_pointwise_silu_attention_of_the_paper() -> None:
    torch.manual_seed(0)
    block = HSTUBlock(hidden=8, heads=2, qk_dim=3, v_dim=4, dropout=0.0, max_len=7, relative_bias=True).eval()
    with torch.no_grad():
        block.rab.weight.normal_()  # a bias large enough to matter
    x = torch.randn(2, 5, 8)
    pad = torch.zeros(2, 5, dtype=torch.bool)
    pad[0, :2] = True
    with torch.no_grad():
        torch.testing.assert_close(block(x, attention_mask(pad, causal=True)), by_hand_block(block, x, pad))


def test_a_single_visible_key_gets_silu_of_its_score_not_a_softmax_weight_of_one() -> None:
    q, k, v = torch.tensor([[[[2.0]]]]), torch.tensor([[[[1.5]]]]), torch.tensor([[[[4.0]]]])
    bias = torch.tensor([[0.5]])
    out = pointwise_attention(q, k, v, bias, torch.ones(1, 1, 1, 1, dtype=torch.bool), norm=10)
    torch.testing.assert_close(out, torch.tensor([[[[F.silu(torch.tensor(3.5)) / 10 * 4.0]]]]))


def model(**overrides: object) -> HSTU:
    torch.manual_seed(0)
    settings: dict[str, object] = dict(
        num_items=12, max_len=8, hidden=16, heads=2, dropout=0.0, linear_dropout=0.0
    )
    net = HSTU(**{**settings, **overrides})
    with torch.no_grad():
        for block in net.encoder.blocks:
            block.rab.weight.normal_()
    return net.eval()


@pytest.mark.parametrize("positions", ["from_start", "from_end"])
def test_changing_a_later_item_never_changes_an_earlier_output(positions: str) -> None:
    net = model(positions=positions)
    seq = torch.tensor([[0, 0, 3, 5, 7, 2, 9, 4]])
    with torch.no_grad():
        before = net.encoder(seq)
        for t in range(2, seq.shape[1]):
            changed = seq.clone()
            changed[0, t] = changed[0, t] % 12 + 1
            after = net.encoder(changed)
            torch.testing.assert_close(before[:, :t], after[:, :t])
            assert not torch.allclose(before[:, t], after[:, t])


@pytest.mark.parametrize("positions", ["from_start", "from_end"])
def test_left_padding_changes_no_real_position_and_no_score(positions: str) -> None:
    net = model(positions=positions)
    short = torch.tensor([[3, 5, 7, 2]])
    padded = torch.tensor([[0, 0, 0, 0, 3, 5, 7, 2]])
    with torch.no_grad():
        torch.testing.assert_close(net.encoder(short), net.encoder(padded)[:, 4:])
        torch.testing.assert_close(net(short), net(padded))


def test_scores_are_cosines_over_the_temperature_or_plain_dot_products() -> None:
    seq = torch.tensor([[3, 5, 7]])
    cosine, dot = model(temperature=0.5), model(l2_norm=False, temperature=1.0)
    with torch.no_grad():
        h, table = cosine.encoder(seq)[:, -1], cosine.encoder.item_emb.weight
        torch.testing.assert_close(cosine(seq), F.cosine_similarity(h[:, None], table[None], dim=-1) / 0.5)
        torch.testing.assert_close(dot(seq), dot.encoder(seq)[:, -1] @ dot.encoder.item_emb.weight.T)


def test_new_targets_of_one_train_on_the_last_position_like_train_targets_last() -> None:
    items = torch.tensor([[0, 3, 5, 7, 2, 9, 4, 1, 6], [8, 2, 4, 6, 8, 10, 12, 1, 3]])
    with torch.no_grad():
        windowed = model().loss(SeqBatch(items=items, new_targets=torch.tensor([1, 1])))
        last = model(train_targets="last").loss(SeqBatch(items=items))
        every = model().loss(SeqBatch(items=items))
    torch.testing.assert_close(windowed, last)
    assert not torch.allclose(windowed, every)


def test_bind_data_hands_the_item_counts_to_a_loss_that_takes_them() -> None:
    class CountingLoss(FullSoftmaxCE):
        counts: torch.Tensor | None = None

        def bind_item_counts(self, counts: torch.Tensor) -> None:
            self.counts = counts

    loss = CountingLoss()
    counts = torch.arange(13, dtype=torch.float)
    model(loss=loss).bind_data(counts, [])
    assert loss.counts is counts
    model().bind_data(counts, [])  # the default loss takes none: no error


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"temperature": 0.0}, "temperature"),
        ({"hidden": 10, "heads": 3}, "qk_dim"),
        ({"positions": "left"}, "positions"),
    ],
)
def test_bad_settings_fail_with_one_clear_error(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        model(**overrides)


def test_a_tiny_hstu_learns_a_deterministic_successor_pattern() -> None:
    torch.manual_seed(0)
    num_items, length = 12, 6
    successor = torch.randperm(num_items) + 1  # item i is always followed by successor[i - 1]

    def chains(count: int) -> torch.Tensor:
        rows = [torch.randint(1, num_items + 1, (count,))]
        for _ in range(length):
            rows.append(successor[rows[-1] - 1])
        return torch.stack(rows, dim=1)  # (count, length + 1)

    net = HSTU(num_items=num_items, max_len=length, hidden=16, heads=2, dropout=0.0, linear_dropout=0.0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    net.train()
    for _ in range(60):
        optimizer.zero_grad()
        net.loss(SeqBatch(items=chains(32))).backward()
        optimizer.step()
    test = chains(200)
    with torch.no_grad():
        predicted = net.eval()(test[:, :-1])[:, 1:].argmax(dim=1) + 1
    accuracy = (predicted == test[:, -1]).float().mean().item()
    assert accuracy > 0.9  # chance is 1/12
