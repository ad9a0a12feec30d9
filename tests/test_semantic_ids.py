"""Item tokenizers (RQ-VAE, RQ-KMeans): unique codes, seeds, the cache, learning, bad input, the command."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec.embeddings.cache import ItemEmbeddings
from llmrec.embeddings.encoders import HashingEncoder
from llmrec.errors import ConfigError, DataError
from llmrec.semantic_ids import SemanticIds, SemanticIdTokenizer
from llmrec.semantic_ids.__main__ import main
from llmrec.semantic_ids.collisions import add_collision_level
from llmrec.semantic_ids.kmeans import faiss_kmeans, torch_kmeans
from llmrec.semantic_ids.learn import learn_semantic_ids
from llmrec.semantic_ids.rqkmeans import rq_kmeans
from llmrec.semantic_ids.rqvae import RqVae, RqVaeSettings, init_codebooks, restart_dead_codes, train_rqvae
from llmrec.semantic_ids.stats import items_per_prefix, perplexity

SMALL_VAE = {"latent_dim": 8, "hidden_dims": [32], "epochs": 5, "batch_size": 64}
TEXTS = [
    f"{colour} {thing} number {i % 3}"
    for i, (colour, thing) in enumerate(
        (c, t) for c in ("red", "green", "blue", "black") for t in ("shoe", "hat", "bag", "cup", "pen")
    )
]


def clusters(count: int = 200, dim: int = 16, centres: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(centres, dim))
    return (means[rng.integers(centres, size=count)] + rng.normal(size=(count, dim))).astype(np.float32)


def tokenizer(tmp_path: Path, **settings: object) -> SemanticIdTokenizer:
    embeddings = ItemEmbeddings(HashingEncoder(dim=32), cache_dir=str(tmp_path / "embeddings"))
    options = {"rqvae": SMALL_VAE, "cache_dir": str(tmp_path / "semantic_ids"), **settings}
    return SemanticIdTokenizer(embeddings, **options)  # type: ignore[arg-type]


def test_collision_level_numbers_items_sharing_a_tuple_in_catalog_order() -> None:
    codes = np.array([[1, 2], [0, 0], [1, 2], [3, 1], [1, 2]])
    unique, sizes = add_collision_level(codes, (4, 3))
    assert unique[:, -1].tolist() == [0, 0, 1, 0, 2]
    assert sizes == (4, 3, 3)
    assert len(np.unique(unique, axis=0)) == len(codes)


def test_collision_level_is_added_without_collisions_too() -> None:
    unique, sizes = add_collision_level(np.array([[0, 1], [1, 0]]), (2, 2))
    assert unique[:, -1].tolist() == [0, 0] and sizes == (2, 2, 1)


@pytest.mark.parametrize("method", ["rqvae", "rqkmeans"])
def test_identical_items_get_unique_ids_and_tiny_catalogs_clip_k(method: str) -> None:
    points = np.repeat(clusters(count=5, dim=4), [1, 1, 1, 1, 4], axis=0)  # 8 items, the last 4 identical
    ids, stats = learn_semantic_ids(points, method, codebook_size=256, rqvae=RqVaeSettings(**SMALL_VAE))
    assert isinstance(ids, SemanticIds) and ids.codes.shape == (8, 4)
    assert stats["level_sizes"][0] == 5 and stats["clipped_levels"] == [1, 2, 3]
    assert stats["collisions"]["largest_group"] == 4 and ids.level_sizes[-1] == 4
    assert sorted(ids.codes[4:, -1].tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize("method", ["rqvae", "rqkmeans"])
def test_the_same_seed_gives_the_same_codes(method: str) -> None:
    points, settings = clusters(), RqVaeSettings(**SMALL_VAE)
    first, _ = learn_semantic_ids(points, method, codebook_size=8, seed=3, rqvae=settings)
    again, _ = learn_semantic_ids(points, method, codebook_size=8, seed=3, rqvae=settings)
    other, _ = learn_semantic_ids(points, method, codebook_size=8, seed=4, rqvae=settings)
    assert first.codes.equal(again.codes) and first.level_sizes == again.level_sizes
    assert not first.codes.equal(other.codes)


def test_rqvae_reconstruction_loss_decreases_with_training() -> None:
    settings = RqVaeSettings(latent_dim=8, hidden_dims=(32,), epochs=60, batch_size=50, lr=3e-3)
    learned = train_rqvae(clusters(), levels=3, codebook_size=8, seed=0, settings=settings)
    losses = learned.training["reconstruction_loss"]
    assert losses[-1] < 0.5 * losses[0]
    latent_error = learned.reconstruction["latent_unexplained_per_level"]
    assert latent_error == sorted(latent_error, reverse=True) and latent_error[-1] < 0.5


def test_a_dead_code_moves_onto_an_items_latent() -> None:
    x = torch.from_numpy(clusters(count=50, dim=6))
    model = RqVae(6, RqVaeSettings(**{**SMALL_VAE, "hidden_dims": (8,)}), [4, 4])
    init_codebooks(model, x, seed=0, iterations=5)
    model.codebooks[0].data[3] = 1e3  # far from every item: never chosen
    used = [torch.tensor([True, True, True, False]), torch.ones(4, dtype=torch.bool)]
    assert restart_dead_codes(model, x, used, torch.Generator().manual_seed(0)) == 1
    latents = model.encoder(x).detach()
    assert torch.isclose(latents, model.codebooks[0].detach()[3]).all(dim=1).any()


@pytest.mark.parametrize("fit", [faiss_kmeans, torch_kmeans])
def test_rqkmeans_residual_error_decreases_with_levels(fit: object) -> None:
    learned = rq_kmeans(clusters(), levels=4, codebook_size=8, seed=0, fit=fit)  # type: ignore[arg-type]
    errors = learned.reconstruction["embedding_unexplained_per_level"]
    assert all(later < earlier for earlier, later in itertools.pairwise(errors))
    assert errors[0] < 0.3  # 8 codes for 8 clusters explain most of the variance
    assert learned.codes.shape == (200, 4) and learned.level_sizes == (8, 8, 8, 8)


def test_torch_kmeans_clips_k_and_repeats_itself() -> None:
    points = np.repeat(clusters(count=3, dim=4), 2, axis=0)
    assert torch_kmeans(points, 3, 0, 10).shape == (3, 4)
    assert np.array_equal(torch_kmeans(clusters(), 8, 1, 10), torch_kmeans(clusters(), 8, 1, 10))


def test_stats_hand_computed() -> None:
    assert perplexity(np.array([0, 0, 1, 1])) == pytest.approx(2.0)
    assert perplexity(np.array([5, 5, 5])) == pytest.approx(1.0)
    prefixes = items_per_prefix(np.array([[0, 0], [0, 1], [0, 1], [1, 0]]))
    assert prefixes == [{"prefixes": 2, "mean": 2.0, "max": 3}, {"prefixes": 3, "mean": 1.33, "max": 2}]


def test_cache_hit_returns_the_same_ids_without_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tokenizer(tmp_path).tokenize(TEXTS)
    assert not first.cached and first.entry is not None and first.ids.num_items == len(TEXTS)
    manifest = json.loads((first.entry / "manifest.json").read_text())
    assert manifest["request"]["embeddings"]["encoder"]["type"] == "hashing"

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cache hit must not train")

    monkeypatch.setattr("llmrec.semantic_ids.tokenizer.learn_semantic_ids", no_training)
    again = tokenizer(tmp_path).tokenize(TEXTS)
    assert again.cached and again.entry == first.entry
    assert again.ids.codes.equal(first.ids.codes) and again.ids.level_sizes == first.ids.level_sizes
    assert again.stats == first.stats


@pytest.mark.parametrize(
    "change",
    [
        {"texts": True},
        {"seed": 1},
        {"method": "rqkmeans"},
        {"codebook_size": 4},
        {"rqvae": {**SMALL_VAE, "epochs": 6}},
    ],
)
def test_cache_is_invalidated_when_an_input_changes(tmp_path: Path, change: dict[str, object]) -> None:
    first = tokenizer(tmp_path).tokenize(TEXTS)
    settings = {key: value for key, value in change.items() if key != "texts"}
    texts = [*TEXTS[:-1], "a new title"] if "texts" in change else TEXTS
    changed = tokenizer(tmp_path, **settings).tokenize(texts)
    assert not changed.cached and changed.entry != first.entry


def test_a_corrupt_artefact_is_rebuilt(tmp_path: Path) -> None:
    first = tokenizer(tmp_path).tokenize(TEXTS)
    assert first.entry is not None
    np.save(first.entry / "codes.npy", np.zeros((len(TEXTS), 4), dtype=np.int64))
    again = tokenizer(tmp_path).tokenize(TEXTS)
    assert not again.cached and again.ids.codes.equal(first.ids.codes)


def test_items_without_text_are_counted_and_still_unique(tmp_path: Path) -> None:
    texts = [*TEXTS[:17], "", "  ", "[no text]"]
    result = tokenizer(tmp_path, method="rqkmeans").tokenize(texts)
    assert result.stats["empty_text_items"] == 3
    assert result.ids.num_items == 20


@pytest.mark.bad_input
def test_too_small_codebooks_without_the_collision_level_fail_before_training(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dedup"):
        tokenizer(tmp_path, levels=2, codebook_size=4, dedup=False).tokenize(TEXTS)


@pytest.mark.bad_input
def test_colliding_codes_without_the_collision_level_fail() -> None:
    points = np.repeat(clusters(count=4, dim=4), 2, axis=0)
    with pytest.raises(ConfigError, match="share a semantic id"):
        learn_semantic_ids(points, "rqkmeans", codebook_size=8, dedup=False)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "vqvae"}, "method"),
        ({"levels": 0}, "levels"),
        ({"rqvae": {"epoch": 3}}, "unknown keys"),
        ({"rqvae": {"lr": -1.0}}, "lr"),
    ],
)
def test_bad_settings_fail_at_construction(tmp_path: Path, settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tokenizer(tmp_path, **settings)


@pytest.mark.bad_input
def test_non_finite_embeddings_are_refused() -> None:
    points = clusters(count=10, dim=4)
    points[3, 1] = np.nan
    with pytest.raises(DataError, match="finite"):
        learn_semantic_ids(points, "rqkmeans")


def test_stats_command_prints_the_artefact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = tokenizer(tmp_path).tokenize(TEXTS)
    assert main(["stats", str(result.entry)]) == 0
    printed = capsys.readouterr().out
    assert "level 1 use" in printed and "collisions" in printed and "latent_unexplained_per_level" in printed
    assert main(["stats", str(tmp_path / "nothing")]) == 2
    assert "not a semantic-id artefact" in capsys.readouterr().err


def test_build_command_composes_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overrides = ["dataset=tiny", "encoder=hashing", "semantic_ids=rqkmeans", f"paths.cache_dir={tmp_path}"]
    assert main(["build", *overrides]) == 0
    printed = capsys.readouterr().out
    assert "rqkmeans (3 levels x 256 codes" in printed and "(learned)" in printed
    assert main(["build", *overrides]) == 0
    assert "(read from the cache)" in capsys.readouterr().out
