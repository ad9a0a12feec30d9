"""trainer=fsdp / deepspeed_zero2 / deepspeed_zero3: presets compose, the machine's refusals are one line,
FSDP's wrapping unit is the backbone's block, and trainable-only checkpoints survive the block wrappers.

FSDP itself cannot run here: Lightning refuses ``FSDPStrategy`` with ``accelerator=cpu`` ("The strategy
`fsdp` requires a GPU accelerator"), and torch's FSDP refuses a module on the CPU ("FSDP needs a non-CPU
accelerator device, but no accelerator device is detected"; forcing device_id=cpu segfaults in training).
The wrapper tests use torch's activation-checkpoint wrapper, which Lightning's FSDP applies with the same
policy object and which names its child the way FSDP's wrapper does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from llmrec.errors import ConfigError
from llmrec.models.layers.trainable_checkpoint import TrainableOnlyCheckpoint, state_dict_name
from llmrec.run import strategies
from llmrec.run.resume import read_stamp
from tests.conftest import compose_config

PRESETS = ["fsdp", "deepspeed_zero2", "deepspeed_zero3"]


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_compose_with_num_nodes(preset: str, tmp_path: Path) -> None:
    cfg = compose_config([f"trainer={preset}", "trainer.num_nodes=4"], tmp_path)
    assert cfg.trainer._target_ == "pytorch_lightning.Trainer" and cfg.trainer.accelerator == "gpu"
    assert cfg.trainer.num_nodes == 4 and cfg.trainer.precision == "bf16-mixed"
    assert cfg.trainer.strategy._target_.startswith("llmrec.run.strategies.")
    assert cfg.trainer.plugins[0]._target_ == "llmrec.run.checkpoint_io.AtomicCheckpointIO"


@pytest.mark.parametrize("preset", ["deepspeed_zero2", "deepspeed_zero3"])
def test_deepspeed_missing_is_one_line_at_startup(preset: str, tmp_path: Path) -> None:
    from llmrec.run.pipeline import run

    cfg = compose_config(["debug=tiny", f"trainer={preset}"], tmp_path)
    with pytest.raises(ConfigError, match=r"pip install deepspeed .*CUDA"):
        run(cfg, tmp_path / "out")
    assert not (tmp_path / "cache").exists()  # refused before any data was read


def test_fsdp_without_cuda_is_one_line_at_startup(tmp_path: Path) -> None:
    cfg = compose_config(["debug=tiny", "trainer=fsdp"], tmp_path)
    with pytest.raises(ConfigError, match="trainer=fsdp needs CUDA GPUs"):
        strategies.check_strategy(cfg.trainer)


def test_fsdp_settings_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    cfg = compose_config(["trainer=fsdp", "trainer.strategy.activation_checkpointing=true"], tmp_path)
    strategies.check_strategy(cfg.trainer)  # builds with CUDA present
    bad = compose_config(["trainer=fsdp", "trainer.strategy.sharding_strategy=HALF"], tmp_path)
    with pytest.raises(ConfigError, match="sharding_strategy must be one of FULL_SHARD"):
        strategies.check_strategy(bad.trainer)
    with pytest.raises(ConfigError, match="state_dict_type must be full"):
        strategies.BackboneFSDPStrategy(state_dict_type="sharded")


def _lora_llama() -> nn.Module:
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, vocab_size=32, max_position_embeddings=16,
    )  # fmt: skip
    torch.manual_seed(0)
    lora = LoraConfig(r=2, lora_alpha=4, target_modules=["gate_proj"], task_type="CAUSAL_LM")
    return get_peft_model(LlamaForCausalLM(config), lora)


class LoraRecommender(TrainableOnlyCheckpoint):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = _lora_llama()  # peft freezes everything but the adapters
        self.head = nn.Linear(16, 5)


def test_block_classes_come_from_the_backbone() -> None:
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaMLP

    model = LoraRecommender()
    assert strategies.backbone_block_classes(model) == (LlamaDecoderLayer,)
    assert strategies.backbone_block_classes(model, ["LlamaMLP"]) == (LlamaMLP,)
    with pytest.raises(ConfigError, match=r"block_classes=\['Block'\] are not modules of the model"):
        strategies.backbone_block_classes(model, ["Block"])
    assert strategies.backbone_block_classes(nn.Sequential(nn.Linear(2, 2))) == ()  # one unit (stage 1)
    policy = strategies.BlockPolicy()
    policy.classes = (LlamaDecoderLayer,)
    block = next(m for m in model.modules() if isinstance(m, LlamaDecoderLayer))
    assert policy(block, recurse=False, nonwrapped_numel=0) and policy(
        model, recurse=True, nonwrapped_numel=0
    )
    assert not policy(model, recurse=False, nonwrapped_numel=0)


def test_trainable_only_checkpoint_under_block_wrappers() -> None:
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
        apply_activation_checkpointing,
        checkpoint_wrapper,
    )

    plain = LoraRecommender()
    expected = {k for k, p in plain.named_parameters() if p.requires_grad}
    assert any("lora_A" in k for k in expected) and "head.weight" in expected
    wrapped = LoraRecommender()
    policy = strategies.BlockPolicy()
    policy.classes = strategies.backbone_block_classes(wrapped)
    apply_activation_checkpointing(wrapped, checkpoint_wrapper_fn=checkpoint_wrapper, auto_wrap_policy=policy)
    names = [k for k, _ in wrapped.named_parameters()]
    assert sum("_checkpoint_wrapped_module" in k for k in names) > 0  # the blocks are wrapped
    checkpoint = {"state_dict": wrapped.state_dict()}
    wrapped.on_save_checkpoint(checkpoint)
    assert set(checkpoint["state_dict"]) == expected  # nothing frozen kept, nothing trainable lost
    reloaded = LoraRecommender()
    apply_activation_checkpointing(
        reloaded, checkpoint_wrapper_fn=checkpoint_wrapper, auto_wrap_policy=policy
    )
    reloaded.load_state_dict(checkpoint["state_dict"])  # strict: frozen may be missing, trainable may not
    for key, value in reloaded.state_dict().items():
        if key in expected:
            assert torch.equal(value, checkpoint["state_dict"][key])
    with pytest.raises(RuntimeError, match="missing"):
        reloaded.load_state_dict({k: v for k, v in checkpoint["state_dict"].items() if k != "head.weight"})


def test_state_dict_name_drops_fsdp_and_checkpoint_wrappers() -> None:
    name = "backbone.layers.0._fsdp_wrapped_module._checkpoint_wrapped_module.mlp.gate_proj.lora_A.weight"
    assert state_dict_name(name) == "backbone.layers.0.mlp.gate_proj.lora_A.weight"


def test_stamp_read_from_a_deepspeed_checkpoint_folder(tmp_path: Path) -> None:
    folder = tmp_path / "last.ckpt" / "checkpoint"
    folder.mkdir(parents=True)
    stamp = {"dataset": "tiny-abc", "model": "m"}
    torch.save({"module": {}, "llmrec": stamp, "epoch": 2}, folder / "mp_rank_00_model_states.pt")
    assert read_stamp(tmp_path / "last.ckpt") == stamp
    (tmp_path / "other.ckpt").mkdir()
    with pytest.raises(ConfigError, match="not a DeepSpeed checkpoint"):
        read_stamp(tmp_path / "other.ckpt")
