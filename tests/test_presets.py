"""Every experiment preset composes, and each model it sweeps instantiates under it (the tuner's search
spaces are checked in test_tune.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from llmrec.data.batch import SeqBatch
from llmrec.run.instantiate import build
from llmrec.run.pipeline import build_model, run
from tests.conftest import CONF_DIR, compose_config

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


# A preset's dry run swaps the paper's 13B backbone and GPU for the tiny LLaMA on CPU (the preset's own
# values are checked in test_e4srec_paper_preset_holds_the_papers_setting); dataset=tiny has too few items
# for the preset's 99 sampled negatives, and stage 1's 300-epoch cap would outlast debug=fast.
DRY_RUN = {
    "e4srec_paper": [
        "llm@model.llm=tiny_llama",
        "trainer=cpu",
        "protocol.negatives=20",
        "model.stage1.trainer.max_epochs=1",
    ]
}
NO_REAL_DATA = ["++stage1_checkpoint=null"]  # a preset's stage-1 SASRec run was trained on a real dataset


def dry(experiment: str) -> list[str]:
    return [*NO_REAL_DATA, *DRY_RUN.get(experiment, [])]


def swept(experiment: str, key: str) -> list[str]:
    """Values the preset's sweeper lists for ``key`` (compose() leaves the hydra node out)."""
    raw = OmegaConf.load(CONF_DIR / "experiment" / f"{experiment}.yaml")
    value = OmegaConf.select(raw, f"hydra.sweeper.params.{key}", default=None)
    return [] if value is None else str(value).split(",")


def preset_models(experiment: str, tmp_path: Path) -> list[str]:
    return swept(experiment, "model") or [compose_config([f"experiment={experiment}"], tmp_path).model.name]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_swept_model_builds_under_the_preset(experiment: str, tmp_path: Path) -> None:
    for model in preset_models(experiment, tmp_path):
        composed = compose_config([f"experiment={experiment}", f"model={model}", *dry(experiment)], tmp_path)
        assert build_model(composed, num_items=11, max_len=int(composed.dataset.max_len)).num_items == 11


def test_presets_name_their_datasets(tmp_path: Path) -> None:
    assert compose_config(["experiment=baselines_beauty"], tmp_path).dataset.name == "beauty"
    assert compose_config(["experiment=ml1m_baselines"], tmp_path).dataset.max_len == 200


def test_e4srec_paper_preset_holds_the_papers_setting(tmp_path: Path) -> None:
    cfg = compose_config(["experiment=e4srec_paper"], tmp_path)
    llm = cfg.model.llm
    assert llm.source.endswith("models/Llama-2-13b-hf") and llm.dtype == "bfloat16"
    assert list(llm.lora.target_modules) == ["gate_proj", "up_proj", "down_proj"]
    assert (llm.lora.r, llm.lora.alpha, llm.lora.dropout) == (16, 16, 0.05)
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"
    assert (cfg.datamodule.batch_size, cfg.model.lr, cfg.model.id_dim) == (16, 0.0003, 64)
    assert cfg.model.name == "e4srec"
    assert swept("e4srec_paper", "dataset") == ["beauty", "sports", "toys", "yelp"]


# BERT4Rec's authors' values per dataset (github FeiSun/BERT4Rec: run_<dataset>.sh, masked_lm_prob and
# max_seq_length; bert_train/bert_config_<dataset>_<dim>.json, the rest); lr 1e-4, weight decay 0.01 for all.
BERT4REC_PAPER = {
    "beauty": dict(mask_prob=0.6, dropout=0.5, attn_dropout=0.2, hidden=64, heads=2, inner=256, max_len=50),
    "ml1m": dict(mask_prob=0.2, dropout=0.2, attn_dropout=0.2, hidden=64, heads=2, inner=256, max_len=200),
    "steam": dict(mask_prob=0.4, dropout=0.2, attn_dropout=0.2, hidden=256, heads=8, inner=1024, max_len=50),
}


@pytest.mark.parametrize("variant", ["bert4rec", "llm2bert4rec"])
@pytest.mark.parametrize("dataset", sorted(BERT4REC_PAPER))
def test_bert4rec_presets_bring_the_authors_values_to_the_model(
    variant: str, dataset: str, tmp_path: Path
) -> None:
    paper = BERT4REC_PAPER[dataset]
    cfg = compose_config([f"model={variant}_{dataset}", f"dataset={dataset}"], tmp_path)
    net = build_model(cfg, num_items=11, max_len=int(cfg.dataset.max_len))
    assert cfg.model.name == f"{variant}_{dataset}"
    assert net.max_len == paper["max_len"] and net.encoder.pos_emb.num_embeddings == paper["max_len"]
    assert (net.mask_prob, net.lr, net.weight_decay) == (paper["mask_prob"], 1e-4, 0.01)
    assert net.last_item_prob == pytest.approx(1 / 11, abs=1e-4)  # 1 of dupe_factor 10 + 1 copies
    assert net.encoder.item_emb.embedding_dim == paper["hidden"] and len(net.encoder.blocks) == 2
    block = net.encoder.blocks[0]
    assert (block.attn.heads, block.attn.dropout, block.drop.p) == (
        paper["heads"],
        paper["attn_dropout"],
        paper["dropout"],
    )
    assert block.ffn[0].out_features == paper["inner"]
    assert (net.item_init is not None) == (variant == "llm2bert4rec")


def test_bert4rec_paper_preset_holds_the_authors_training(tmp_path: Path) -> None:
    cfg = compose_config(["experiment=bert4rec_paper"], tmp_path)
    assert (cfg.dataset.name, cfg.model.name, cfg.dataset.max_len) == ("beauty", "bert4rec_beauty", 50)
    assert cfg.lr_scheduler.scheduler._target_ == "transformers.get_linear_schedule_with_warmup"
    assert cfg.lr_scheduler.warmup_steps == 100 and cfg.budget.kind == "epochs"
    assert (cfg.datamodule.batch_size, cfg.trainer.gradient_clip_val) == (256, 5.0)
    assert swept("bert4rec_paper", "model") == ["bert4rec_beauty", "llm2bert4rec_beauty"]
    net = build_model(cfg, num_items=11, max_len=50)
    optimizer = net.optimizer_factory(net.parameters(), lr=net.lr, weight_decay=net.weight_decay)
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.AdamW)
    assert (group["lr"], group["weight_decay"], group["eps"]) == (1e-4, 0.01, 1e-6)


def test_bert4rec_schedule_warms_up_100_steps_then_decays_linearly_to_zero() -> None:
    schedule = build(compose_config(["lr_scheduler=bert4rec"]).lr_scheduler)
    fake = SimpleNamespace(
        max_epochs=1, num_training_batches=300, accumulate_grad_batches=1, train_dataloader=range(300)
    )
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    scheduler = schedule(optimizer, fake)  # type: ignore[arg-type]
    lrs = []
    for _ in range(301):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[50] == pytest.approx(5e-5) and lrs[100] == pytest.approx(1e-4)
    assert lrs[200] == pytest.approx(5e-5) and lrs[250] == pytest.approx(2.5e-5) and lrs[300] == 0.0


def test_bert4rec_paper_trains_along_its_schedule(tmp_path: Path) -> None:
    cfg = compose_config(["experiment=bert4rec_paper", "trainer.max_epochs=2"], tmp_path)
    torch.manual_seed(0)
    net = build_model(cfg, num_items=30, max_len=8)
    batches = [SeqBatch(items=torch.randint(1, 31, (4, 9))) for _ in range(3)]
    before = net.encoder.item_emb.weight.detach().clone()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=cfg.trainer.max_epochs,
        gradient_clip_val=cfg.trainer.gradient_clip_val,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(net, train_dataloaders=DataLoader(batches, batch_size=None))
    assert trainer.global_step == 6 and net.lr_schedule.total_steps == 6
    # still in the 100 warm-up steps: lr = 1e-4 * 6 / 100 after 6 steps
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(6e-6)
    assert not torch.equal(before, net.encoder.item_emb.weight)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_preset_runs_with_a_fast_debug_setting(experiment: str, tmp_path: Path) -> None:
    model = preset_models(experiment, tmp_path)[-1]
    overrides = [f"experiment={experiment}", f"model={model}", "dataset=tiny", "debug=fast", *dry(experiment)]
    results = run(compose_config(overrides, tmp_path), tmp_path / "run")
    assert results["status"] == "ok" and results["metrics"]["test"]["ndcg_10"] >= 0.0


BUDGETS = sorted(p.stem for p in (CONF_DIR / "budget").glob("*.yaml"))


@pytest.mark.parametrize("budget", BUDGETS)
def test_every_budget_names_a_dataset_and_a_model(budget: str) -> None:
    datasets = {p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")}
    models = {p.stem for p in (CONF_DIR / "model").glob("*.yaml")}
    dataset, _, model = budget.partition("_")
    assert dataset in datasets and model in models, f"conf/budget/{budget}.yaml matches no dataset_model pair"


def test_a_budget_applies_to_its_pair_only_and_the_command_line_wins(tmp_path: Path) -> None:
    default = compose_config(["model=sasrec"], tmp_path).trainer.max_epochs
    budgeted = compose_config(["model=llmseqprompt", "dataset=synthetic"], tmp_path).trainer
    assert budgeted.max_epochs < default and budgeted.check_val_every_n_epoch == 4
    assert compose_config(["model=llmseqprompt", "dataset=tiny"], tmp_path).trainer.max_epochs == default
    given = ["model=llmseqprompt", "dataset=synthetic", "trainer.max_epochs=3"]
    assert compose_config(given, tmp_path).trainer.max_epochs == 3
    e4srec = compose_config(["model=e4srec", "dataset=synthetic"], tmp_path)
    assert e4srec.trainer.max_epochs < default and e4srec.model.stage1.trainer.max_epochs == default
