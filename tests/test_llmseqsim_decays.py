"""LLMSeqSim's session aggregations against the official code's decays (Harte et al.,
dh-r/LLM-Sequential-Recommendation, decay_utils.compute_decay_array: i = 1 for the most recent item), each
picked by its short name (model/aggregation=<name>), and the tuning grid over them."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from llmrec.configs import config_dir
from llmrec.embeddings.cache import ItemEmbeddings
from llmrec.embeddings.encoders import HashingEncoder
from llmrec.models import llmseqsim as sim
from llmrec.run.tune_space import load_space

# Weights of a 4-item history, oldest first (ages 3, 2, 1, 0; n = 4), before normalising, by hand.
FOUR = {
    "last": [0, 0, 0, 1],
    "mean": [1, 1, 1, 1],
    "constant_linear": [0.7, 0.8, 0.9, 1.0],  # 1 - 0.1 * age
    "scaling_linear": [1 / 4, 2 / 4, 3 / 4, 1],  # 1 - age / 4
    "scaling_quadratic": [1 / 16, 4 / 16, 9 / 16, 1],
    "scaling_cubic": [1 / 64, 8 / 64, 27 / 64, 1],
    "log": [0.419066, 0.476516, 0.590616, 1],  # 1 / (ln i + 1), i = 4, 3, 2, 1
    "harmonic": [1 / 4, 1 / 3, 1 / 2, 1],
    "harmonic_squared": [1 / 16, 1 / 9, 1 / 4, 1],
    "log2": [0.430677, 0.5, 0.630930, 1],  # llmrec's variant: 1 / log2(age + 2)
}
# The same for a 3-item history (ages 2, 1, 0; n = 3): the scaling decays follow the history's length.
THREE = {
    "constant_linear": [0.8, 0.9, 1.0],
    "scaling_linear": [1 / 3, 2 / 3, 1],
    "scaling_quadratic": [1 / 9, 4 / 9, 1],
    "scaling_cubic": [1 / 27, 8 / 27, 1],
    "log": [0.476516, 0.590616, 1],
    "harmonic_squared": [1 / 9, 1 / 4, 1],
}
OFFICIAL = [name for name in FOUR if name != "log2"]
SIMILARITIES = ["cosine", "dot", "euclidean"]


def _group_option(group: str, name: str) -> object:
    """The object ``model/<group>=<name>`` builds, composed as a user's command line would."""
    overrides = ["model=llmseqsim", "encoder=hashing", f"model/{group}={name}"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return instantiate(compose(config_name="config", overrides=overrides).model[group])


def _normalised_weights(aggregation: sim.RecencyWeightedMean, lengths: list[int], width: int) -> np.ndarray:
    """(B, width) the weights ``aggregation`` gives each position of left-padded histories of ``lengths``."""
    mask = torch.tensor([[j >= width - n for j in range(width)] for n in lengths])  # (B, width)
    one_hot = torch.eye(width).expand(len(lengths), width, width)  # position j's vector is e_j
    return aggregation(one_hot, mask).numpy()  # the weighted mean of e_j = the normalised weights


def _expected(rows: list[list[float]], width: int) -> np.ndarray:
    out = np.zeros((len(rows), width))
    for b, row in enumerate(rows):
        out[b, width - len(row) :] = np.array(row) / sum(row)
    return out


@pytest.mark.parametrize("name", list(FOUR))
def test_each_short_name_gives_the_hand_computed_weights(name: str) -> None:
    aggregation = _group_option("aggregation", name)
    rows = [FOUR[name], THREE.get(name)] if name in THREE else [FOUR[name]]
    got = _normalised_weights(aggregation, [len(r) for r in rows], width=6)  # padded to 6 positions
    np.testing.assert_allclose(got, _expected(rows, 6), rtol=2e-5, atol=1e-7)


def test_the_official_log_decay_is_not_the_log2_variant() -> None:
    assert isinstance(_group_option("aggregation", "log"), sim.LogRecency)
    assert isinstance(_group_option("aggregation", "log2"), sim.Log2Recency)
    age, count = torch.tensor([[1.0]]), torch.tensor([[2.0]])
    assert sim.LogRecency().weights(age, count).item() == pytest.approx(1 / 1.693147)  # 1 / (ln 2 + 1)
    assert sim.Log2Recency().weights(age, count).item() == pytest.approx(1 / 1.584963)  # 1 / log2(3)


def test_constant_linear_floors_at_1e_5_after_ten_items() -> None:
    ages = torch.arange(12.0).unsqueeze(0)  # (1, 12)
    weights = sim.ConstantLinearRecency().weights(ages, torch.tensor([[12.0]]))[0]
    assert weights[9].item() == pytest.approx(0.1)
    assert weights[10].item() == pytest.approx(1e-5) and weights[11].item() == pytest.approx(1e-5)


@pytest.mark.parametrize("name", SIMILARITIES)
def test_similarity_short_names(name: str) -> None:
    expected = {
        "cosine": sim.CosineSimilarity,
        "dot": sim.DotSimilarity,
        "euclidean": sim.EuclideanSimilarity,
    }
    assert type(_group_option("similarity", name)) is expected[name]


def test_llmseqsim_scores_with_constant_linear_by_hand() -> None:
    vectors = np.array([[1, 0], [0, 1], [1, 1], [2, 0]], dtype=np.float32)  # items 1..4
    model = sim.LLMSeqSim(
        4, 4, ItemEmbeddings(HashingEncoder()), sim.ConstantLinearRecency(), sim.DotSimilarity()
    )
    model.set_item_vectors(vectors)
    scores = model(torch.tensor([[0, 1, 2, 3]]))[0, 1:]  # items 1, 2, 3 at ages 2, 1, 0
    # session = (0.8 [1, 0] + 0.9 [0, 1] + 1.0 [1, 1]) / 2.7 = [1.8, 1.9] / 2.7
    np.testing.assert_allclose(scores.numpy(), np.array([1.8, 1.9, 3.7, 3.6]) / 2.7, rtol=1e-6)


def test_the_tuning_grid_is_every_official_aggregation_times_every_similarity() -> None:
    space = load_space("llmseqsim")
    assert space.is_grid and space.grid_size() == len(OFFICIAL) * len(SIMILARITIES) == 27
    grid = space.grid()
    folder = Path(config_dir()) / "model"
    targets = {
        group: {
            path.stem: path.read_text().split("_target_: ")[1].strip()
            for path in (folder / group).glob("*.yaml")
        }
        for group in ("aggregation", "similarity")
    }
    assert sorted(targets["aggregation"]) == sorted(FOUR) and sorted(targets["similarity"]) == SIMILARITIES
    assert grid["model.aggregation._target_"] == [targets["aggregation"][name] for name in OFFICIAL]
    assert grid["model.similarity._target_"] == [targets["similarity"][name] for name in SIMILARITIES]
    for path in [*grid["model.aggregation._target_"], *grid["model.similarity._target_"]]:
        module, _, name = path.rpartition(".")
        assert callable(getattr(import_module(module), name))
