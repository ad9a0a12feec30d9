"""GRU4Rec: padding is invisible at every position, the loss trains the positions SASRec's does, a tiny
model learns a pattern that needs its memory, and ``python -m llmrec model=gru4rec`` writes results."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from llmrec.data.batch import SeqBatch
from llmrec.models.gru4rec import GRU4Rec
from tests.test_app import llmrec

NUM_ITEMS = 12


def test_left_padding_leaves_every_state_unchanged_and_zeroes_padding() -> None:
    torch.manual_seed(0)
    model = GRU4Rec(NUM_ITEMS, 8, hidden=8, layers=2).eval()
    short = torch.tensor([[3, 5, 7, 2]])
    padded = torch.tensor([[0, 0, 0, 3, 5, 7, 2], [1, 2, 3, 4, 5, 6, 7]])
    with torch.no_grad():
        alone, batch = model.encoder(short), model.encoder(padded)
    torch.testing.assert_close(batch[0, 3:], alone[0])
    assert batch[0, :3].abs().sum() == 0


def test_loss_trains_the_new_targets_only_and_last_target_is_its_cross_entropy() -> None:
    torch.manual_seed(0)
    items = torch.tensor([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 7]])
    model = GRU4Rec(NUM_ITEMS, 5, hidden=8, output_bias=False).eval()
    h = model.encoder(items[:, :-1])[:, -1]
    expected = F.cross_entropy(h @ model.encoder.item_emb.weight[1:].T, items[:, -1] - 1)
    torch.testing.assert_close(model.loss(SeqBatch(items, new_targets=torch.tensor([1, 1]))), expected)
    last = GRU4Rec(NUM_ITEMS, 5, hidden=8, output_bias=False, train_targets="last")
    last.load_state_dict(model.state_dict())
    torch.testing.assert_close(last.eval().loss(SeqBatch(items)), expected)


def test_a_separate_output_table_is_its_own_parameter() -> None:
    model = GRU4Rec(NUM_ITEMS, 5, hidden=8, tied_output=False)
    model.loss(SeqBatch(torch.tensor([[0, 1, 2, 3, 4, 5]]))).backward()
    assert model.output_emb is not None and model.output_emb.weight.grad.abs().sum() > 0
    scores = model.eval()(torch.tensor([[1, 2]]))
    torch.testing.assert_close(
        scores, model.encoder(torch.tensor([[1, 2]]))[:, -1] @ model.output_emb.weight.T + model.bias
    )


def two_back_sequences(count: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """Each item is fixed by the two before it, item = (a + b) mod N + 1: the last item alone says little."""
    rows = torch.randint(1, NUM_ITEMS + 1, (count, 2), generator=generator).tolist()
    for row in rows:
        while len(row) < length:
            row.append((row[-1] + row[-2]) % NUM_ITEMS + 1)
    return torch.tensor(rows)


def test_a_tiny_gru4rec_learns_a_two_step_pattern_better_than_popularity_and_first_order_counts() -> None:
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    train, test = two_back_sequences(256, 9, g), two_back_sequences(200, 9, g)
    model = GRU4Rec(NUM_ITEMS, 8, hidden=32, dropout=0.0, hidden_dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(300):
        batch = train[torch.randint(0, len(train), (64,), generator=g)]
        optimizer.zero_grad()
        model.loss(SeqBatch(batch)).backward()
        optimizer.step()
    with torch.no_grad():
        top = model.eval()(test[:, :-1])[:, 1:].argmax(dim=1) + 1
    accuracy = (top == test[:, -1]).float().mean().item()
    popular = torch.bincount(train.flatten(), minlength=NUM_ITEMS + 1)[1:].argmax() + 1
    popularity = (test[:, -1] == popular).float().mean().item()
    # the best guess from the last item alone (first-order transitions counted on the training data)
    transitions = torch.zeros(NUM_ITEMS + 1, NUM_ITEMS + 1)
    transitions.index_put_(
        (train[:, :-1].flatten(), train[:, 1:].flatten()), torch.tensor(1.0), accumulate=True
    )
    markov = (transitions[test[:, -2]].argmax(dim=1) == test[:, -1]).float().mean().item()
    assert accuracy > 0.9 and popularity < 0.2 and markov < 0.3, (accuracy, popularity, markov)


def test_the_command_line_run_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = llmrec("model=gru4rec", "debug=tiny", "trainer.max_epochs=1", f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "ok" and results["model"] == "gru4rec" and results["dataset"] == "tiny"
    assert results["config"]["model"]["_target_"] == "llmrec.models.gru4rec.GRU4Rec"
    assert 0.0 <= results["metrics"]["test"]["ndcg_10"] <= 1.0
