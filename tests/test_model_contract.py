"""The contract every model config honours: one test, parametrised over conf/model/*.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from llmrec.data.batch import SeqBatch
from llmrec.models.base import SequentialRecommender
from llmrec.run.pipeline import build_model
from tests.conftest import CONF_DIR, compose_config

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
NUM_ITEMS, MAX_LEN = 20, 6


def make(model: str, tmp_path: Path, seed: int = 0) -> SequentialRecommender:
    torch.manual_seed(seed)
    cfg = compose_config([f"model={model}", "debug=tiny", "encoder=hashing"], tmp_path)
    net = build_model(cfg, NUM_ITEMS, MAX_LEN)
    counts = torch.arange(NUM_ITEMS + 1, dtype=torch.float)
    counts[0] = 0
    net.bind_data(counts, [f"item {i} of topic {i % 4}" for i in range(1, NUM_ITEMS + 1)])
    net.configure_model()  # what Lightning calls before fit/validate/test (LLM backbones load here)
    return net.eval()


def windows(batch: int = 4) -> torch.Tensor:
    torch.manual_seed(1)
    rows = torch.randint(1, NUM_ITEMS + 1, (batch, MAX_LEN + 1))
    rows[0, :3] = 0  # a left-padded row
    return rows


@pytest.mark.parametrize("model", MODELS)
def test_scores_cover_the_catalog_and_are_finite(model: str, tmp_path: Path) -> None:
    net = make(model, tmp_path)
    with torch.no_grad():
        scores = net(windows()[:, :-1])
    assert scores.shape == (4, NUM_ITEMS + 1)
    assert torch.isfinite(scores[:, 1:]).all()


@pytest.mark.parametrize("model", MODELS)
def test_loss_is_finite_and_gradients_reach_only_trainable_parameters(model: str, tmp_path: Path) -> None:
    net = make(model, tmp_path).train()
    if not net.requires_training:
        pytest.skip(f"{model} has nothing to train")
    loss = net.loss(SeqBatch(items=windows()))
    assert torch.isfinite(loss)
    loss.backward()
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert trainable and any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)
    assert all(p.grad is None for p in net.parameters() if not p.requires_grad)


@pytest.mark.parametrize("model", MODELS)
def test_left_padding_does_not_change_scores(model: str, tmp_path: Path) -> None:
    net = make(model, tmp_path)
    short = torch.tensor([[3, 5, 7]])
    padded = torch.tensor([[0, 0, 0, 3, 5, 7]])
    with torch.no_grad():
        torch.testing.assert_close(net(short), net(padded))


@pytest.mark.parametrize("model", MODELS)
def test_checkpoint_round_trip_keeps_scores(model: str, tmp_path: Path) -> None:
    net = make(model, tmp_path, seed=0)
    path = tmp_path / "model.pt"
    torch.save(net.state_dict(), path)
    fresh = make(model, tmp_path, seed=123)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    seq = windows()[:, :-1]
    with torch.no_grad():
        torch.testing.assert_close(net(seq), fresh(seq))


@pytest.mark.parametrize("model", [m for m in MODELS if m.startswith(("sasrec", "hstu", "gru4rec"))])
def test_causal_model_does_not_peek_at_the_future(model: str, tmp_path: Path) -> None:
    net = make(model, tmp_path)
    seq = windows()[:, :-1]
    changed = seq.clone()
    changed[:, -1] = (changed[:, -1] % NUM_ITEMS) + 1
    with torch.no_grad():
        before, after = net.encoder(seq), net.encoder(changed)
    torch.testing.assert_close(before[:, :-1], after[:, :-1])
    assert not torch.allclose(before[:, -1], after[:, -1])
