"""Lite-LLM4Rec: item cache and its counters, one-pass scoring, training-example counts, bad input, e2e."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec.data.batch import SeqBatch
from llmrec.data.cache import load_sequence_data
from llmrec.data.item_text import fill_empty_texts
from llmrec.data.split import LeaveOneOut
from llmrec.data.synthetic import SyntheticSource
from llmrec.errors import ConfigError
from llmrec.models.layers.item_towers import POOLINGS, ItemLLM, TextEncoderItems
from llmrec.models.lite_llm4rec import LiteLLM4Rec, training_examples
from llmrec.run.pipeline import build_model, run
from tests.conftest import compose_config
from tests.test_app import llmrec

NUM_ITEMS, MAX_LEN = 12, 6
TEXTS = [f"item {i} of topic {i % 3}" for i in range(1, NUM_ITEMS + 1)]


def make(tmp_path: Path, model: str = "lite_llm4rec", *overrides: str) -> LiteLLM4Rec:
    torch.manual_seed(0)
    cfg = compose_config([f"model={model}", "encoder=hashing", *overrides], tmp_path)
    net = build_model(cfg, NUM_ITEMS, MAX_LEN)
    assert isinstance(net, LiteLLM4Rec)
    net.bind_data(torch.ones(NUM_ITEMS + 1), TEXTS)
    net.configure_model()
    return net


# --- training examples ------------------------------------------------------------------------
def test_full_traversal_makes_every_prefix_and_its_next_item() -> None:
    windows = torch.tensor([[0, 0, 4, 5, 6], [1, 2, 3, 4, 5]])  # (B, L+1)
    prefixes, targets = training_examples(windows, "full")
    got = sorted((tuple(p[p != 0].tolist()), int(t)) for p, t in zip(prefixes, targets, strict=True))
    expected = [((4,), 5), ((4, 5), 6), ((1,), 2), ((1, 2), 3), ((1, 2, 3), 4), ((1, 2, 3, 4), 5)]
    assert got == sorted(expected)
    assert (prefixes[:, -1] != 0).all()  # left padded: the last column is the most recent item


def test_sampling_takes_one_valid_position_per_window() -> None:
    windows = torch.tensor([[0, 0, 4, 5, 6], [1, 2, 3, 4, 5], [0, 0, 0, 0, 7]])  # last: no target
    for seed in range(20):
        torch.manual_seed(seed)
        prefixes, targets = training_examples(windows, "sample")
        assert len(targets) == 2
        for prefix, target in zip(prefixes, targets, strict=True):
            real = prefix[prefix != 0].tolist()
            row = windows[0] if real[0] == 4 else windows[1]
            assert row.tolist()[row.tolist().index(real[0]) + len(real)] == target


@pytest.mark.parametrize("max_len", [3, 50])
def test_training_example_counts_match_the_documented_formulas(max_len: int) -> None:
    source = SyntheticSource(num_users=60, num_items=30, num_topics=3, mean_length=8, max_length=15, seed=1)
    split = LeaveOneOut(load_sequence_data(source, k_core=5, cache_dir=None)[0])
    windows, _ = split.train_windows(max_len)
    lengths = np.diff(split.data.offsets) - 2  # training-part length of each user
    full_expected = int(np.maximum(lengths - 1, 0).sum())
    sample_expected = int(np.where(lengths > 1, -(-(lengths - 1) // max_len), 0).sum())
    items = torch.from_numpy(windows)
    assert len(training_examples(items, "full")[1]) == full_expected
    assert len(training_examples(items, "sample")[1]) == sample_expected == len(windows)
    if max_len == 50:  # every training part fits one window: one example per user with a target
        assert sample_expected == int((lengths > 1).sum())


# --- item cache and one-pass scoring ------------------------------------------------------------
class CountingEncoder:
    """A hashing-like encoder that counts the texts it encodes."""

    def __init__(self) -> None:
        self.encoded = 0

    def identity(self) -> dict[str, str]:
        return {"type": "counting", "name": "test", "revision": "1"}

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded += len(texts)
        return np.stack([np.full(8, len(text), dtype=np.float32) for text in texts])


def test_frozen_item_llm_encodes_each_item_once_and_reads_the_disk_cache(tmp_path: Path) -> None:
    from llmrec.embeddings.cache import ItemEmbeddings

    encoder = CountingEncoder()
    tower = TextEncoderItems(ItemEmbeddings(encoder, cache_dir=str(tmp_path)))
    tower.bind(TEXTS)
    for _ in range(3):
        vectors = tower.vectors(torch.tensor([[0, 1, 2], [3, 4, 5]]))
    assert vectors.shape == (2, 3, 8) and (vectors[0, 0] == 0).all()
    assert encoder.encoded == NUM_ITEMS and tower.refresh_counts[1:].eq(1).all()
    again = TextEncoderItems(ItemEmbeddings(encoder, cache_dir=str(tmp_path)))
    again.bind(TEXTS)
    torch.testing.assert_close(again.catalog(), tower.catalog())
    assert encoder.encoded == NUM_ITEMS  # the second tower read the on-disk cache


def test_trainable_item_llm_reencodes_batch_items_and_refreshes_once_per_epoch(tmp_path: Path) -> None:
    net = make(tmp_path, "lite_llm4rec_item_lora")
    tower = net.item_llm
    assert isinstance(tower, ItemLLM) and tower.trainable
    with torch.no_grad():
        net.eval()(torch.tensor([[1, 2, 3]]))
    assert tower.refresh_counts[1:].eq(1).all() and tower.batch_encodings == 0
    net.train()
    windows = torch.tensor([[0, 1, 2, 3, 2, 1, 4], [5, 6, 5, 6, 5, 6, 7]])
    for _ in range(2):  # two steps of one epoch
        net.loss(SeqBatch(items=windows)).backward()
    assert tower.batch_encodings == 2 * 5  # the distinct input items {1, 2, 3, 5, 6}, once per step
    assert tower.refresh_counts[1:].eq(1).all()  # no catalog pass during training steps
    net.on_train_epoch_end()
    net.on_train_epoch_end()  # nothing changed since: no second refresh
    with torch.no_grad():
        net.eval()(torch.tensor([[1, 2, 3]]))
    assert tower.refresh_counts[1:].eq(2).all()


def test_scores_for_all_items_come_from_one_rec_llm_pass(tmp_path: Path) -> None:
    net = make(tmp_path).eval()
    calls = []
    net.rec.register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        scores = net(torch.tensor([[0, 1, 2], [3, 4, 5], [0, 0, 6]]))
    assert scores.shape == (3, NUM_ITEMS + 1) and len(calls) == 1
    assert torch.isfinite(scores[:, 1:]).all() and (scores[:, 0] == float("-inf")).all()
    assert net.item_llm.refresh_counts[1:].eq(1).all()


@pytest.mark.parametrize("name", ["mean", "first", "last"])
def test_pooling_reads_only_real_tokens(name: str) -> None:
    states = torch.arange(12, dtype=torch.float).reshape(1, 4, 3).repeat(2, 1, 1)  # (2, T=4, D=3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    expected = {
        "mean": torch.stack([states[0].mean(0), states[1, :2].mean(0)]),
        "first": states[:, 0],
        "last": torch.stack([states[0, 3], states[1, 1]]),
    }[name]
    torch.testing.assert_close(POOLINGS[name](states, mask), expected)


def test_a_decoder_rec_llm_with_positions_ignores_left_padding(tmp_path: Path) -> None:
    net = make(
        tmp_path,
        "lite_llm4rec",
        "llm@model.rec_llm=tiny_llama",
        "model.rec_llm.model_class=transformers.AutoModel",
        "model.rec_llm.lora=null",
    ).eval()
    assert net.takes_positions
    with torch.no_grad():
        torch.testing.assert_close(net(torch.tensor([[3, 5, 7]])), net(torch.tensor([[0, 0, 3, 5, 7]])))


# --- bad input --------------------------------------------------------------------------------
def test_empty_texts_are_counted_and_get_a_placeholder(tmp_path: Path, caplog) -> None:
    texts, count = fill_empty_texts(["a title", "", "  ", "[no text]", "b"], "[no text]")
    assert count == 3 and texts == ["a title", "item 2", "item 3", "item 4", "b"]
    net = make(tmp_path)
    with caplog.at_level("WARNING"):
        net.bind_data(torch.ones(NUM_ITEMS + 1), ["", *TEXTS[1:]])
    assert net.empty_items == 1 and "1 of 12 items have empty text" in caplog.text


@pytest.mark.bad_input
def test_unknown_pooling_is_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pooling='max'.*first.*last.*mean"):
        make(tmp_path, "lite_llm4rec_item_lora", "model.item_llm.pooling=max")


@pytest.mark.bad_input
def test_item_llm_size_that_does_not_match_the_projection_is_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gives 256-d item vectors but model\.item_dim=384"):
        make(tmp_path, "lite_llm4rec", "model.item_dim=384")  # hashing encoder: 256-d


@pytest.mark.bad_input
def test_unknown_training_positions_is_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train_positions='every'"):
        make(tmp_path, "lite_llm4rec", "model.train_positions=every")


# --- end to end -----------------------------------------------------------------------------
def test_end_to_end_run_on_synthetic_data(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = llmrec(
        "model=lite_llm4rec",
        "debug=tiny",
        "encoder=hashing",
        "trainer.max_epochs=1",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "lite_llm4rec" and 0 <= results["metrics"]["test"]["ndcg_10"] <= 1
    assert results["parameters"]["trainable"] < results["parameters"]["total"]  # the unused token table


def test_run_with_sampled_positions_and_a_trainable_item_llm(tmp_path: Path) -> None:
    cfg = compose_config(
        ["model=lite_llm4rec_item_lora", "debug=tiny", "logger=none", "model.train_positions=sample"],
        tmp_path,
    )
    cfg.trainer.max_epochs = 1
    results = run(cfg, tmp_path / "run")
    assert results["status"] == "ok" and 0 <= results["metrics"]["val"]["ndcg_10"] <= 1
    spent = results["budget"]["spent"]
    assert 0 < spent["loss_targets"] < spent["examples"]  # one target per window of the schema's several


def test_frozen_minilm_item_llm_matches_sentence_transformers_and_uses_the_disk_cache(tmp_path: Path) -> None:
    from llmrec.embeddings.encoders import minilm
    from llmrec.models.layers.llm import minilm_spec

    towers = []
    for _ in range(2):
        tower = ItemLLM(minilm_spec(lora=None), pooling="mean", cache_dir=str(tmp_path))
        tower.bind(TEXTS)
        tower.load()
        assert not tower.trainable
        towers.append(tower)
    table = towers[0].catalog()[1:]  # (N, 384)
    reference = torch.from_numpy(minilm().encode(TEXTS))  # mean-pooled and unit-normalised
    cosine = torch.nn.functional.cosine_similarity(table, reference, dim=1)
    assert cosine.min() > 0.999
    entries = list(tmp_path.glob("item-llm-*"))
    assert len(entries) == 1
    towers[1].encode_items = None  # a second tower must not encode: it reads the cache entry
    torch.testing.assert_close(towers[1].catalog(), towers[0].catalog())


# --- memory: full traversal under gradient checkpointing ---------------------------------------
def _train_step_saving(net: LiteLLM4Rec, windows: torch.Tensor) -> tuple[float, list[torch.Tensor], int]:
    """Loss, gradients and the largest tensor autograd keeps for the backward pass, for one step."""
    saved: list[int] = []

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor.numel())
        return tensor

    net.train()
    torch.manual_seed(1)  # the same dropout masks for both settings
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        loss = net.loss(SeqBatch(windows))
    loss.backward()
    grads = [p.grad.clone() for p in net.parameters() if p.grad is not None]
    return loss.item(), grads, max(saved)


def test_gradient_checkpointing_recomputes_traversal_inputs_with_the_same_numbers(tmp_path: Path) -> None:
    windows = torch.arange(1, 8).repeat(4, 1)  # (4, L+1): 24 prefixes of up to MAX_LEN items
    plain = make(tmp_path, "lite_llm4rec", "model.rec_llm.gradient_checkpointing=false")
    recomputed = make(tmp_path, "lite_llm4rec", "model.rec_llm.gradient_checkpointing=true")
    loss, grads, largest = _train_step_saving(plain, windows)
    loss_gc, grads_gc, largest_gc = _train_step_saving(recomputed, windows)
    assert loss_gc == loss and len(grads_gc) == len(grads)
    assert all(torch.equal(a, b) for a, b in zip(grads, grads_gc, strict=True))
    item_vectors = 24 * MAX_LEN * plain.item_llm.dim  # (E, L, item_dim): kept without checkpointing
    assert largest >= item_vectors > largest_gc


# --- the pretrained MiniLM as Rec LLM (model=lite_llm4rec_minilm) ------------------------------
LORA = (
    "model.rec_llm.lora={_target_:llmrec.models.layers.llm.LoraSpec,target_modules:[query,key,value,dense]}"
)


def test_minilm_rec_llm_is_the_pretrained_bert_fully_trained_except_unused_tables(tmp_path: Path) -> None:
    net = make(tmp_path, "lite_llm4rec_minilm")
    assert type(net.rec).__name__ == "BertModel" and net.rec.config.hidden_size == 384
    assert net.rec_spec.gradient_checkpointing and net.rec.encoder.layer[0].gradient_checkpointing
    frozen = {name for name, p in net.rec.named_parameters() if not p.requires_grad}
    assert frozen == {"embeddings.word_embeddings.weight", "pooler.dense.weight", "pooler.dense.bias"}
    assert net.takes_positions
    from llmrec.models.layers.llm import minilm_spec

    pretrained = minilm_spec(freeze=True).load()  # the same weights as the package's MiniLM
    torch.testing.assert_close(
        net.rec.encoder.layer[0].attention.self.query.weight,
        pretrained.encoder.layer[0].attention.self.query.weight,
    )


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_minilm_rec_llm_scores_ignore_left_padding(tmp_path: Path, lora: bool) -> None:
    net = make(tmp_path, "lite_llm4rec_minilm", *(["model.rec_llm.freeze=true", LORA] if lora else []))
    if lora:
        trainable = [name for name, p in net.rec.named_parameters() if p.requires_grad]
        assert trainable and all("lora_" in name for name in trainable)
    net.eval()
    history = [3, 5, 7]
    batch = torch.tensor([[0, 0, 0, *history], [0, 0, 1, 2, 4, 6], [0, 0, 0, 0, 0, 9]])
    with torch.no_grad():
        alone = net(torch.tensor([history]))
        padded = net(torch.tensor([[0, 0, *history]]))
        batched = net(batch)
        net.takes_positions = False  # BERT's absolute positions would then count the padding
        unshifted = net(torch.tensor([[0, 0, *history]]))
    torch.testing.assert_close(padded, alone)
    torch.testing.assert_close(batched[:1], alone)
    assert not torch.allclose(unshifted[:, 1:], alone[:, 1:], atol=1e-4)


def test_minilm_rec_llm_training_steps_lower_the_loss_and_reload_from_trainable_tensors(
    tmp_path: Path,
) -> None:
    net = make(tmp_path, "lite_llm4rec_minilm", "model.dropout=0.0")
    batch = SeqBatch(items=torch.tensor([[0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12, 1]]))
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-3)

    def eval_loss() -> float:
        with torch.no_grad():
            return net.eval().loss(batch).item()

    before = eval_loss()
    for _ in range(3):
        optimizer.zero_grad()
        net.train().loss(batch).backward()
        optimizer.step()
    after = eval_loss()
    assert after < before - 0.1, (before, after)

    checkpoint = {"state_dict": net.state_dict()}
    net.on_save_checkpoint(checkpoint)
    assert not any("word_embeddings" in key or "pooler" in key for key in checkpoint["state_dict"])
    fresh = make(tmp_path, "lite_llm4rec_minilm", "model.dropout=0.0")
    fresh.load_state_dict(checkpoint["state_dict"])
    windows = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    with torch.no_grad():
        torch.testing.assert_close(fresh.eval()(windows), net.eval()(windows))


@pytest.mark.bad_input
def test_sequences_longer_than_minilm_positions_are_one_config_error(tmp_path: Path) -> None:
    cfg = compose_config(["model=lite_llm4rec_minilm", "encoder=hashing"], tmp_path)
    net = build_model(cfg, NUM_ITEMS, 513)
    net.bind_data(torch.ones(NUM_ITEMS + 1), TEXTS)
    with pytest.raises(ConfigError, match=r"dataset\.max_len=513 is longer than the Rec LLM's 512"):
        net.configure_model()


@pytest.mark.parametrize(
    ("model", "encoder", "label"),
    [
        ("lite_llm4rec", "minilm", "lite_llm4rec[minilm+tiny-t5,random]"),
        ("lite_llm4rec_minilm", "minilm", "lite_llm4rec[minilm]"),  # Item LLM and Rec LLM: one name
        ("lite_llm4rec_minilm", "hashing", "lite_llm4rec_minilm[hashing+minilm]"),
    ],
)
def test_report_label_names_the_rec_llm_backbone(
    tmp_path: Path, model: str, encoder: str, label: str
) -> None:
    from omegaconf import OmegaConf

    from llmrec.report.names import model_label

    cfg = compose_config([f"model={model}", f"encoder={encoder}"], tmp_path)
    result = {"model": cfg.model.name, "config": {"model": OmegaConf.to_container(cfg.model, resolve=True)}}
    assert model_label(result) == label
