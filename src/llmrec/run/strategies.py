"""Lightning's FSDP and DeepSpeed strategies for backbones that do not fit one GPU (``trainer=fsdp``,
``trainer=deepspeed_zero2``, ``trainer=deepspeed_zero3``), each refused at startup with one line where the
machine cannot run it.

FSDP wraps (and, when asked, checkpoints the activations of) the backbone's transformer blocks: the classes a
Hugging Face model lists in ``_no_split_modules`` (the list ``device_map`` and accelerate use), found when the
model exists, so one preset serves LLaMA, Qwen, Mistral and T5. Checkpoints are written as one full state
dict by rank zero (``state_dict_type="full"``): a file that ``torch.load(weights_only=True)`` reads and that
:class:`~llmrec.models.layers.trainable_checkpoint.TrainableOnlyCheckpoint` trims to the trainable tensors.
DeepSpeed writes a folder per checkpoint; ``exclude_frozen_parameters`` keeps the frozen backbone out of it.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import FSDPStrategy, Strategy
from torch import nn

from llmrec.errors import ConfigError
from llmrec.models.layers.trainable_checkpoint import TrainableOnlyCheckpoint

SHARDING_STRATEGIES = ("FULL_SHARD", "SHARD_GRAD_OP", "HYBRID_SHARD", "NO_SHARD")


def _require_cuda(preset: str) -> None:
    if not torch.cuda.is_available():
        raise ConfigError(
            f"trainer={preset} needs CUDA GPUs and this machine has none (torch's FSDP and DeepSpeed "
            f"refuse the CPU); without a GPU use trainer=cpu, or trainer=ddp trainer.accelerator=cpu"
        )


def backbone_block_classes(model: nn.Module, names: list[str] | None = None) -> tuple[type[nn.Module], ...]:
    """The module classes in ``model`` named ``names``, or by default the transformer blocks of every
    Hugging Face model inside it (their ``_no_split_modules``); none for a model without a backbone (a
    stage-1 SASRec), which FSDP then shards as one unit."""
    wanted = set(names or [])
    if not wanted:
        for module in model.modules():
            wanted.update(getattr(module, "_no_split_modules", None) or [])
    found = {type(module) for module in model.modules() if type(module).__name__ in wanted}
    if names and not found:
        raise ConfigError(
            f"trainer.strategy.block_classes={sorted(wanted)} are not modules of the model; name its "
            f"transformer block classes, e.g. [LlamaDecoderLayer], or null for the backbone's own"
        )
    return tuple(sorted(found, key=lambda cls: cls.__name__))


class BlockPolicy:
    """An FSDP auto-wrap policy in torch's function form: wrap each module of one of ``classes``."""

    def __init__(self) -> None:
        self.classes: tuple[type[nn.Module], ...] = ()

    def __call__(self, module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
        return True if recurse else isinstance(module, self.classes)


class BackboneFSDPStrategy(FSDPStrategy):
    """:class:`FSDPStrategy` whose wrapping unit is the backbone's transformer block. ``block_classes``:
    class names (default: the backbone's ``_no_split_modules``); ``activation_checkpointing``: recompute
    each block's activations in the backward pass instead of keeping them."""

    def __init__(
        self,
        block_classes: list[str] | None = None,
        activation_checkpointing: bool = False,
        sharding_strategy: str = "FULL_SHARD",
        **kwargs: Any,
    ) -> None:
        _require_cuda("fsdp")
        if kwargs.get("state_dict_type", "full") != "full":
            raise ConfigError(
                "trainer.strategy.state_dict_type must be full: llmrec reads checkpoints as one file "
                "(sharded checkpoints are folders that would also hold the frozen backbone)"
            )
        if sharding_strategy not in SHARDING_STRATEGIES:
            raise ConfigError(
                f"trainer.strategy.sharding_strategy must be one of {', '.join(SHARDING_STRATEGIES)}, got "
                f"{sharding_strategy!r}"
            )
        self.block_names = list(block_classes) if block_classes else None
        self.block_policy = BlockPolicy()
        checkpointing = self.block_policy if activation_checkpointing else None
        super().__init__(
            auto_wrap_policy=self.block_policy,
            activation_checkpointing_policy=checkpointing,
            sharding_strategy=sharding_strategy,  # type: ignore[arg-type]
            **kwargs,
        )

    def setup(self, trainer: pl.Trainer) -> None:
        # configure_model has built the backbone by now; the policy learns its block classes before wrapping
        module = self.lightning_module
        assert module is not None
        self.block_policy.classes = backbone_block_classes(module, self.block_names)
        if isinstance(module, TrainableOnlyCheckpoint):
            # FSDP loads a checkpoint through its root module, not the model's own load_state_dict, so the
            # frozen tensors a trainable-only checkpoint leaves out must not count as missing
            module.strict_loading = False
        super().setup(trainer)


def deepspeed_strategy(
    stage: int, offload_optimizer: bool = False, offload_parameters: bool = False, **kwargs: Any
) -> Strategy:
    """Lightning's :class:`DeepSpeedStrategy` at ZeRO ``stage`` 2 or 3; checkpoints leave out the frozen
    parameters (``exclude_frozen_parameters``)."""
    preset = f"deepspeed_zero{stage}"
    if importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(
            f"trainer={preset} needs the deepspeed package, which is not installed: pip install deepspeed "
            f"(on a machine with CUDA GPUs and the CUDA toolkit, which DeepSpeed needs)"
        )
    _require_cuda(preset)
    if stage not in (2, 3):
        raise ConfigError(f"trainer.strategy.stage must be 2 or 3 (ZeRO-2 or ZeRO-3), got {stage!r}")
    from pytorch_lightning.strategies import DeepSpeedStrategy

    return DeepSpeedStrategy(
        stage=stage,
        offload_optimizer=offload_optimizer,
        offload_parameters=offload_parameters,
        exclude_frozen_parameters=True,
        **kwargs,
    )


def check_strategy(trainer_node: Any) -> None:
    """Build a configured strategy once before any data is read, so a missing package or GPU is reported
    at startup (the trainer builds its own later)."""
    from llmrec.run.instantiate import build

    node = trainer_node.get("strategy")
    if node is not None and not isinstance(node, str):
        build(node)
