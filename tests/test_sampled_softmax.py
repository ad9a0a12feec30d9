"""SampledSoftmaxCE against brute-force references: the full softmax when every item is a negative,
accidental hits masked, the logQ correction on a hand-computed case, gradients, and a SASRec run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from llmrec.errors import ConfigError
from llmrec.models.layers.losses import FullSoftmaxCE, SampledBCE, SampledSoftmaxCE, bind_loss_counts
from llmrec.run.pipeline import build_model, run
from tests.conftest import compose_config

N, D = 6, 4
LOSS = "model.loss._target_=llmrec.models.layers.losses.SampledSoftmaxCE"


def leaves(seed: int = 0, rows: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(rows, D, generator=g, dtype=torch.float64)
    table = torch.randn(N + 1, D, generator=g, dtype=torch.float64)
    bias = torch.randn(N + 1, generator=g, dtype=torch.float64)
    return hidden.requires_grad_(), table.requires_grad_(), bias.requires_grad_()


def brute_force(
    hidden: torch.Tensor,
    targets: list[int],
    table: torch.Tensor,
    bias: torch.Tensor,
    candidates: list[int],
    log_q: dict[int, float],
) -> float:
    """Mean over rows of -log softmax of the target among itself and the candidates other than it."""
    hidden, table, bias = hidden.detach(), table.detach(), bias.detach()
    total = 0.0
    for row, target in enumerate(targets):

        def logit(item: int, row: int = row) -> float:
            return float(hidden[row] @ table[item] + bias[item]) - log_q.get(item, 0.0)

        others = [logit(c) for c in candidates if c != target]
        logits = [logit(target), *others]
        total += math.log(sum(math.exp(x) for x in logits)) - logits[0]
    return total / len(targets)


@pytest.mark.parametrize("logq", [False, True])
@pytest.mark.parametrize("num_negatives", [N, N + 10])
def test_every_item_as_a_negative_is_the_full_softmax(logq: bool, num_negatives: int) -> None:
    hidden, table, bias = leaves()
    targets = torch.tensor([1, 3, 3, 6, 2])
    got = SampledSoftmaxCE(num_negatives=num_negatives, logq=logq)(hidden, targets, table, bias)
    want = FullSoftmaxCE()(hidden, targets, table, bias)
    assert got.item() == pytest.approx(want.item(), rel=1e-12)  # uniform logQ: one constant, no change


def test_accidental_hits_are_masked_and_in_batch_copies_count_once_each() -> None:
    hidden, table, bias = leaves()
    targets = [2, 2, 3, 5, 2]  # item 2 is three rows' target: for each, the other two copies are hits
    got = SampledSoftmaxCE(num_negatives=0, in_batch=True, logq=False)(
        hidden, torch.tensor(targets), table, bias
    )
    want = brute_force(hidden, targets, table, bias, candidates=targets, log_q={})
    assert got.item() == pytest.approx(want, rel=1e-12)
    logits = hidden.detach() @ table.detach()[targets].T + bias.detach()[targets]  # (M, M): copies kept
    unmasked = (logits.logsumexp(dim=1) - logits.diagonal()).mean().item()
    assert got.item() != pytest.approx(unmasked, rel=1e-6)


def test_logq_subtracts_the_log_expected_count_of_each_candidate() -> None:
    hidden, table, bias = leaves(rows=3)
    counts = torch.tensor([0.0, 1.0, 3.0, 4.0, 2.0, 0.0, 10.0])  # item 5 never seen: counted once
    share = {i: max(c, 1.0) / 21.0 for i, c in enumerate(counts.tolist())}
    targets = [2, 3, 6]
    loss = SampledSoftmaxCE(num_negatives=0, in_batch=True)
    bind_loss_counts(loss, counts)
    got = loss(hidden, torch.tensor(targets), table, bias)
    want = brute_force(hidden, targets, table, bias, targets, {i: math.log(3 * share[i]) for i in targets})
    assert got.item() == pytest.approx(want, rel=1e-6)
    plain = brute_force(hidden, targets, table, bias, targets, {})
    assert want != pytest.approx(plain, rel=1e-3)  # the correction matters on this case
    # in-batch and the whole catalog: each candidate's expected count is 3 p(item) + N/N
    mixed = SampledSoftmaxCE(num_negatives=N, in_batch=True)
    bind_loss_counts(mixed, counts)
    got = mixed(hidden, torch.tensor(targets), table, bias)
    log_q = {i: math.log(3 * share[i] + 1.0) for i in range(1, N + 1)}
    want = brute_force(hidden, targets, table, bias, [*targets, *range(1, N + 1)], log_q)
    assert got.item() == pytest.approx(want, rel=1e-6)


def test_temperature_divides_the_logits() -> None:
    hidden, table, bias = leaves()
    targets = torch.tensor([1, 3, 3, 6, 2])
    got = SampledSoftmaxCE(num_negatives=N, temperature=0.5)(hidden, targets, table, bias)
    want = FullSoftmaxCE()(hidden * 2, targets, table, bias * 2)
    assert got.item() == pytest.approx(want.item(), rel=1e-12)


def test_gradients_reach_hidden_table_and_bias_but_not_padding() -> None:
    hidden, table, bias = leaves()
    loss = SampledSoftmaxCE(num_negatives=3, in_batch=True)
    bind_loss_counts(loss, torch.arange(N + 1.0))
    loss(hidden, torch.tensor([1, 3, 3, 6, 2]), table, bias).backward()
    for leaf in (hidden, table, bias):
        assert torch.isfinite(leaf.grad).all() and leaf.grad.abs().sum() > 0
    assert table.grad[0].abs().sum() == 0 and bias.grad[0] == 0  # padding is never a candidate


def test_uniform_negatives_are_distinct_catalog_items() -> None:
    drawn = SampledSoftmaxCE(num_negatives=4)._uniform_negatives(N, torch.device("cpu"))
    assert len(set(drawn.tolist())) == 4 and set(drawn.tolist()) <= set(range(1, N + 1))


def test_in_batch_logq_without_counts_is_one_clear_error() -> None:
    hidden, table, bias = leaves()
    with pytest.raises(ConfigError, match=r"bind_loss_counts.*logq=false"):
        SampledSoftmaxCE(in_batch=True)(hidden, torch.tensor([1, 2, 3, 4, 5]), table, bias)
    SampledSoftmaxCE(in_batch=True, logq=False)(hidden, torch.tensor([1, 2, 3, 4, 5]), table, bias)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"num_negatives": -1}, "num_negatives must be an integer >= 0"),
        ({"num_negatives": 0}, "has no negatives"),
        ({"temperature": 0.0}, "temperature must be positive"),
    ],
)
def test_impossible_settings_are_refused(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        SampledSoftmaxCE(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "override"), [("sasrec", LOSS), ("gru4rec", LOSS), ("bert4rec", f"+{LOSS}")]
)
def test_sequence_models_bind_their_item_counts_to_the_loss(
    model: str, override: str, tmp_path: Path
) -> None:
    cfg = compose_config([f"model={model}", override, "+model.loss.in_batch=true", "debug=tiny"], tmp_path)
    net = build_model(cfg, N, 5)
    assert isinstance(net.objective, SampledSoftmaxCE) and net.objective.log_popularity is None
    net.bind_data(torch.arange(N + 1.0), [f"item {i}" for i in range(1, N + 1)])
    assert net.objective.log_popularity[3].item() == pytest.approx(math.log(3 / 21))
    bind_loss_counts(SampledBCE(), torch.ones(N + 1))  # a loss without counts is left as it is


def test_sasrec_trains_with_the_sampled_softmax_on_tiny(tmp_path: Path) -> None:
    overrides = [
        "model=sasrec",
        "debug=tiny",
        LOSS,
        "+model.loss.in_batch=true",
        "+model.loss.num_negatives=8",
    ]
    results = run(compose_config([*overrides, "trainer.max_epochs=1"], tmp_path), tmp_path / "run")
    written = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["status"] == written["status"] == "ok"
    assert written["config"]["model"]["loss"]["_target_"].endswith("SampledSoftmaxCE")
    assert math.isfinite(written["metrics"]["test"]["ndcg_10"])
