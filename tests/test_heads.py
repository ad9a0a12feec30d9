"""Output heads (llmrec.models.layers.heads): Harte et al.'s projection head adds a transform and a per-item
bias to SASRec's and BERT4Rec's scores, checked on hand-computed values; without it both models are what
they were (same parameter names, same initial draws, same scores)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from llmrec.data.batch import SeqBatch
from llmrec.models.bert4rec import BERT4Rec
from llmrec.models.layers.encoder import SequenceEncoder
from llmrec.models.layers.heads import GeluProjectionHead, MaskedLMHead, ReluProjectionHead
from llmrec.models.sasrec import SASRec
from llmrec.run.pipeline import build_model
from tests.conftest import compose_config

NUM_ITEMS, HIDDEN = 5, 4
LAST_HIDDEN = torch.tensor([[1.0, -2.0, 3.0, -4.0]])  # the encoder's last state, stubbed
ITEM_BIAS = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])


def stub_encoder(net: SASRec, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item i's embedding is [i, i, 1, 1] and the encoder returns LAST_HIDDEN at every position."""
    with torch.no_grad():
        ids = torch.arange(NUM_ITEMS + 1, dtype=torch.float)
        ones = torch.ones_like(ids)
        net.encoder.item_emb.weight.copy_(torch.stack([ids, ids, ones, ones], dim=1))

    def last_state(seq: Tensor) -> Tensor:
        return LAST_HIDDEN.expand(seq.shape[0], seq.shape[1], HIDDEN)

    monkeypatch.setattr(net.encoder, "forward", last_state)


def identity_dense(head: nn.Sequential) -> None:
    with torch.no_grad():
        head[0].weight.copy_(torch.eye(HIDDEN))
        head[0].bias.zero_()


def test_sasrec_projection_head_scores_relu_state_against_the_table_plus_the_item_bias(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    net = SASRec(NUM_ITEMS, max_len=3, hidden=HIDDEN, heads=2, inner=8, head=ReluProjectionHead).eval()
    stub_encoder(net, monkeypatch)
    identity_dense(net.head)
    with torch.no_grad():
        net.bias.copy_(ITEM_BIAS)
        scores = net(torch.tensor([[1, 2, 3]]))
    # relu([1, -2, 3, -4]) = [1, 0, 3, 0]; . [i, i, 1, 1] = i + 3; plus the bias of item i
    assert scores.tolist() == [[3.0, 4.5, 6.0, 7.5, 9.0, 10.5]]


def test_sasrec_without_a_head_scores_the_state_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    net = SASRec(NUM_ITEMS, max_len=3, hidden=HIDDEN, heads=2, inner=8).eval()
    stub_encoder(net, monkeypatch)
    with torch.no_grad():
        scores = net(torch.tensor([[1, 2, 3]]))
    assert scores.tolist() == [[-1.0, -2.0, -3.0, -4.0, -5.0, -6.0]]  # i - 2i + 3 - 4 = -i - 1


def test_bert4rec_gelu_projection_head_adds_the_item_bias_and_has_no_layer_norm() -> None:
    net = BERT4Rec(NUM_ITEMS, max_len=3, hidden=HIDDEN, heads=2, inner=8, head=GeluProjectionHead).eval()
    identity_dense(net.head)
    with torch.no_grad():
        net.bias.copy_(ITEM_BIAS)
        zero_state = net.head(torch.zeros(1, HIDDEN)) @ net._item_table().T + net.bias
        large_state = net.head(torch.tensor([[10.0, -10.0, 0.0, 0.0]]))
    assert zero_state.tolist() == [ITEM_BIAS.tolist()]  # gelu(0) = 0: the scores are the bias alone
    torch.testing.assert_close(large_state, torch.tensor([[10.0, 0.0, 0.0, 0.0]]))  # gelu, no norm
    assert sorted(k for k in net.state_dict() if k.startswith("head")) == [
        "head.0.bias",
        "head.0.weight",
    ]


def test_the_head_and_the_bias_train() -> None:
    torch.manual_seed(0)
    net = SASRec(NUM_ITEMS, max_len=3, hidden=HIDDEN, heads=2, inner=8, head=ReluProjectionHead).train()
    net.loss(SeqBatch(items=torch.tensor([[1, 2, 3, 4], [0, 5, 1, 2]]))).backward()
    assert net.bias.grad is not None and net.bias.grad[1:].abs().sum() > 0
    assert net.head[0].weight.grad is not None and net.head[0].weight.grad.abs().sum() > 0


def test_without_a_head_the_models_keep_their_parameters_and_initial_draws() -> None:
    sasrec = SASRec(NUM_ITEMS, max_len=3, hidden=HIDDEN, heads=2, inner=8)
    assert not any(key.startswith(("head", "bias")) for key in sasrec.state_dict())
    assert sasrec.head is None and sasrec.bias is None
    torch.manual_seed(0)
    bert = BERT4Rec(NUM_ITEMS, max_len=3, hidden=HIDDEN, heads=2, inner=8)
    torch.manual_seed(0)  # what earlier releases drew: the encoder, then Linear -> GELU -> LayerNorm
    SequenceEncoder(NUM_ITEMS + 2, 3, HIDDEN, 2, 2, 8, 0.2, 0.2, causal=False)
    linear = nn.Linear(HIDDEN, HIDDEN)
    assert isinstance(bert.head, MaskedLMHead)
    assert torch.equal(bert.head[0].weight, linear.weight) and torch.equal(bert.head[0].bias, linear.bias)
    assert sorted(k for k in bert.state_dict() if k.startswith(("head", "bias"))) == [
        "bias",
        "head.0.bias",
        "head.0.weight",
        "head.2.bias",
        "head.2.weight",
    ]


def test_the_head_is_a_config_override(tmp_path: Path) -> None:
    head = "+model.head={_target_:llmrec.models.layers.heads.ReluProjectionHead,_partial_:true}"
    cfg = compose_config(["model=llm2sasrec", head], tmp_path)
    net = build_model(cfg, num_items=NUM_ITEMS, max_len=3)
    assert isinstance(net.head, ReluProjectionHead) and net.bias.shape == (NUM_ITEMS + 1,)
    assert build_model(compose_config(["model=llm2sasrec"], tmp_path), NUM_ITEMS, 3).head is None
