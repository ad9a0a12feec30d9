"""experiment=e4srec_paper: the official E4SRec recipe (HestiaSky/E4SRec) as composed, and its batches of
16 training examples."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.split import LeaveOneOut
from llmrec.models.e4srec.prompts import ALPACA_PREFIX, ALPACA_SUFFIX, TEMPLATES
from llmrec.run.samples import check_samples
from llmrec.run.stages import stage_run_config
from tests.conftest import compose_config
from tests.test_data_pipeline import data_from
from tests.test_e4srec import make as make_e4srec

DRY_RUN = ["llm@model.llm=tiny_llama", "trainer=cpu"]  # the preset comment's dry run, without debug=fast


def preset(tmp_path: Path, *overrides: str) -> DictConfig:
    return compose_config(["experiment=e4srec_paper", *DRY_RUN, *overrides], tmp_path)


def test_the_dry_run_keeps_the_official_training_settings(tmp_path: Path) -> None:
    cfg = preset(tmp_path, "debug=fast")
    assert cfg.model.lr == 0.0003 and cfg.optimizer._target_ == "torch.optim.AdamW"
    scheduler = cfg.lr_scheduler
    assert scheduler.scheduler._target_ == "transformers.get_cosine_schedule_with_warmup"
    assert scheduler.warmup_steps == 100 and scheduler.get("epochs") is None  # decays over max_epochs
    assert check_samples(cfg) == {
        "name": "last_targets",
        "windows": "last_prefixes",
        "targets": "last",
        "n": 50,
    }
    assert cfg.datamodule.last_targets == 50 and cfg.model.train_targets == "last"
    assert cfg.dataset.max_len == 550  # the longest user of the four datasets: histories stay whole
    assert (cfg.protocol.name, cfg.protocol.negatives) == ("sampled", 99)
    assert cfg.model.llm.source is None and cfg.trainer.accelerator == "cpu"  # tiny LLaMA on CPU


def test_the_preset_trains_3_epochs_of_16_examples_a_batch(tmp_path: Path) -> None:
    cfg = preset(tmp_path)
    assert (cfg.trainer.max_epochs, cfg.datamodule.batch_size) == (3, 16)
    assert cfg.budget.kind == "epochs" and cfg.trainer.gradient_clip_val == 1.0
    # Under samples=last_targets a batch of 16 windows is 16 (history, target) examples.
    histories = [list(range(1 + 5 * u, 6 + 5 * u)) for u in range(4)]  # 4 users, 5 items: 2 targets each
    split = LeaveOneOut(data_from(histories))
    module = SequenceDataModule(split, 550, batch_size=16, train_windows="last_prefixes", last_targets=50)
    assert len(module.train_set) == 8
    batch = next(iter(module.train_dataloader()))
    _, targets = make_e4srec(tmp_path, "samples=last_targets").training_examples(batch.items)
    assert sorted(targets.tolist()) == [2, 3, 7, 8, 12, 13, 17, 18]  # one example per window


def test_the_prompt_is_the_official_alpaca_template(tmp_path: Path) -> None:
    cfg = preset(tmp_path, "debug=fast")
    assert (cfg.model.prompt_prefix, cfg.model.prompt_suffix) == TEMPLATES["alpaca"]
    assert ALPACA_PREFIX.startswith("Below is an instruction that describes a task, paired with an input")
    assert "### Instruction:\nGiven the user\u2019s purchase history, predict next possible item to be " in (
        ALPACA_PREFIX
    )
    assert ALPACA_PREFIX.endswith("\n\n### Input:\n") and ALPACA_SUFFIX == "\n### Response:\n"
    assert cfg.model.prompt_bos is False
    net = make_e4srec(tmp_path, "model.prompt_bos=false")
    assert net.prefix_ids.tolist() == net.tokenizer.encode(net.prompt_prefix)  # no special token first


def test_stage1_is_per_seed_and_offers_the_official_objective(tmp_path: Path) -> None:
    cfg = preset(tmp_path)
    stage1 = cfg.model.stage1
    assert (stage1.select, stage1.samples, stage1.max_len, stage1.trainer.max_epochs) == (
        "best",
        "last_n",
        50,
        300,
    )
    assert stage1.model.name == "sasrec" and stage1.model.hidden == 64
    sub = stage_run_config(cfg, stage1.model, stage1.trainer, stage1.samples, stage1.max_len, stage1.select)
    assert (sub.samples.name, sub.samples.n, sub.dataset.max_len) == ("last_n", 50, 50)
    assert check_samples(sub)["name"] == "last_n" and sub.lr_scheduler is None
    official = preset(tmp_path, "model@model.stage1.model=sasrec_bce", "model.stage1.select=last")
    node = official.model.stage1
    assert (
        node.model.loss._target_ == "llmrec.models.layers.losses.SampledBCE"
        and node.model.loss.num_negatives == 1
    )
    sub = stage_run_config(official, node.model, node.trainer, node.samples, node.max_len, node.select)
    assert (
        sub.callbacks.early_stopping is None and sub.budget.kind == "epochs" and sub.trainer.max_epochs == 300
    )
    assert sub.model.hidden == 64 and sub.model.train_targets == "all"
