"""The memory one GPU needs to train a model: weights, gradients, AdamW state and activations, per strategy.

The accounting is the ZeRO paper's (Rajbhandari et al., arXiv 1910.02054): every trainable parameter has
a gradient (at its own dtype) and two AdamW states in float32, plus a float32 master copy where it is held
in 16 bits (DeepSpeed's mixed precision casts the module to 16 bits; a 16-bit trainable tensor needs one).
ZeRO-1 shards the optimizer state over the data-parallel world, ZeRO-2 also the gradients, ZeRO-3 and FSDP
(full shard) also the weights; DDP keeps everything on every GPU. Frozen weights have no gradient and no
optimizer state, which is why a LoRA run of a 7B backbone fits where full fine-tuning does not.

Activations are estimated for the transformer layers of the backbone (Korthikanti et al., arXiv
2205.05198): 34·s·b·h bytes a layer in 16 bits (twice that in 32), the attention scores left out as sdpa
and FlashAttention do not store them; with activation checkpointing each layer keeps its 2·s·b·h input
and one layer is recomputed at a time. Activations are never sharded: the batch is per GPU. Logits, the
item head and the allocator's fragmentation are not included, so a measured peak is expected above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from torch import nn

from llmrec.errors import ConfigError

#: What each strategy shards over the world size: (optimizer state, gradients, weights).
SHARDED = {
    "single": (False, False, False),
    "ddp": (False, False, False),
    "deepspeed_stage_1": (True, False, False),
    "deepspeed_stage_2": (True, True, False),
    "fsdp_shard_grad_op": (True, True, False),
    "deepspeed_stage_3": (True, True, True),
    "fsdp": (True, True, True),
}
ADAM_STATE_BYTES = 8  # exp_avg and exp_avg_sq in float32
MASTER_BYTES = 4  # the float32 copy of a trainable weight held in 16 bits
GIB = 1024**3


@dataclass(frozen=True)
class Parameters:
    """Parameter counts and bytes of a model as it is held in memory (all of it, not one GPU's shard)."""

    total: int
    trainable: int
    bytes: int  # every weight at its own dtype
    trainable_bytes: int  # the trainable weights at their dtype: their gradients take as much
    trainable_half: int  # trainable parameters held in 16 bits (each needs a float32 master copy)

    @classmethod
    def of(cls, model: nn.Module) -> Parameters:
        """Counts of ``model``; a DeepSpeed ZeRO-3 partitioned parameter counts by its full ``ds_numel``."""
        total = trainable = size = trainable_size = half = 0
        for parameter in model.parameters():
            numel = int(getattr(parameter, "ds_numel", parameter.numel()))
            nbytes = numel * parameter.element_size()
            total, size = total + numel, size + nbytes
            if parameter.requires_grad:
                trainable, trainable_size = trainable + numel, trainable_size + nbytes
                half += numel if parameter.element_size() == 2 else 0
        return cls(total, trainable, size, trainable_size, half)

    def as_list(self) -> list[int]:
        return [getattr(self, field.name) for field in fields(self)]


@dataclass(frozen=True)
class Backbone:
    """The shape the activation estimate needs: hidden size, layers, and whether they are checkpointed."""

    hidden: int
    layers: int
    checkpointing: bool = False


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes on one GPU, by kind; ``parameters`` are the model's, unsharded."""

    strategy: str
    world_size: int
    precision: str
    parameters: Parameters
    weights: int
    gradients: int
    optimizer: int
    activations: int
    batch: tuple[int, int]  # (sequences per GPU, tokens per sequence) the activations assume

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations

    def table(self) -> str:
        params = self.parameters
        share = params.trainable / params.total if params.total else 0.0
        rows = [
            ("parameters", f"{params.total:,} ({params.bytes / GIB:.2f} GiB)"),
            ("trainable", f"{params.trainable:,} ({share:.2%})"),
            ("weights", _gib(self.weights)),
            ("gradients", _gib(self.gradients)),
            ("optimizer (AdamW)", _gib(self.optimizer)),
            (f"activations (batch {self.batch[0]} x {self.batch[1]})", _gib(self.activations)),
            ("total per device", _gib(self.total)),
        ]
        width = max(len(name) for name, _ in rows)
        head = f"memory plan: {self.strategy}, {self.world_size} device(s), precision {self.precision}"
        return "\n".join([head, *(f"  {name:<{width}}  {value}" for name, value in rows)])


def _gib(nbytes: int) -> str:
    return f"{nbytes / GIB:.2f} GiB"


def _half_precision(precision: str) -> bool:
    return str(precision).startswith(("16", "bf16"))


def activation_bytes(backbone: Backbone | None, batch: int, tokens: int, precision: str) -> int:
    """Estimated activations the backbone's layers keep for the backward pass (Korthikanti et al.)."""
    if backbone is None:
        return 0
    width = 1 if _half_precision(precision) else 2  # 16-bit activations, or twice the bytes in 32 bits
    per_layer = 34 * tokens * batch * backbone.hidden * width
    if not backbone.checkpointing:
        return backbone.layers * per_layer
    return backbone.layers * 2 * tokens * batch * backbone.hidden * width + per_layer


def memory_plan(
    parameters: Parameters,
    strategy: str,
    world_size: int,
    precision: str,
    batch: int,
    tokens: int,
    backbone: Backbone | None = None,
) -> MemoryPlan:
    """Bytes per GPU of a run of a model with ``parameters`` under ``strategy`` on ``world_size`` GPUs."""
    if strategy not in SHARDED:
        raise ConfigError(f"memory plan: strategy {strategy!r} is not one of {', '.join(SHARDED)}")
    if world_size < 1 or batch < 1 or tokens < 1:
        raise ConfigError(
            f"memory plan: world size, batch and tokens must be >= 1, got {world_size, batch, tokens}"
        )
    if strategy.startswith("deepspeed") and _half_precision(precision) and precision.endswith("mixed"):
        # DeepSpeed's mixed precision holds the module in 16 bits and float32 masters in its optimizer
        total, trainable = parameters.total, parameters.trainable
        parameters = Parameters(total, trainable, 2 * total, 2 * trainable, trainable_half=trainable)
    optimizer = parameters.trainable * ADAM_STATE_BYTES + parameters.trainable_half * MASTER_BYTES
    shard_optimizer, shard_gradients, shard_weights = SHARDED[strategy]
    return MemoryPlan(
        strategy=strategy,
        world_size=world_size,
        precision=str(precision),
        parameters=parameters,
        weights=_per_gpu(parameters.bytes, shard_weights, world_size),
        gradients=_per_gpu(parameters.trainable_bytes, shard_gradients, world_size),
        optimizer=_per_gpu(optimizer, shard_optimizer, world_size),
        activations=activation_bytes(backbone, batch, tokens, precision),
        batch=(batch, tokens),
    )


def _per_gpu(nbytes: int, sharded: bool, world_size: int) -> int:
    return math.ceil(nbytes / world_size) if sharded else nbytes


def find_backbone(model: nn.Module) -> Backbone | None:
    """The first Hugging Face transformer inside ``model`` (under any peft wrapper), or None."""
    for module in model.modules():
        config = getattr(module, "config", None)
        if not type(module).__module__.startswith("transformers.") or config is None:
            continue
        hidden = getattr(config, "hidden_size", None) or getattr(config, "d_model", None)
        layers = getattr(config, "num_hidden_layers", None) or getattr(config, "num_layers", None)
        if hidden and layers:
            checkpointing = bool(getattr(module, "is_gradient_checkpointing", False))
            return Backbone(int(hidden), int(layers), checkpointing)
    return None


def plan_vs_measured(plan: MemoryPlan, peak_bytes: int, held_bytes: int) -> str:
    """The plan against what a device measured after the first optimizer step: ``held_bytes``
    (``torch.cuda.memory_allocated()``: weights, gradients and AdamW state, activations freed) and
    ``peak_bytes`` (``torch.cuda.max_memory_allocated()``: with the step's activations)."""
    static = plan.weights + plan.gradients + plan.optimizer
    return (
        f"memory plan vs measured ({plan.strategy}, {plan.precision}): weights + gradients + optimizer "
        f"planned {_gib(static)}, held {_gib(held_bytes)} ({_ratio(held_bytes, static)}); total planned "
        f"{_gib(plan.total)}, peak {_gib(peak_bytes)} ({_ratio(peak_bytes, plan.total)})"
    )


def _ratio(measured: int, planned: int) -> str:
    return f"{measured / planned:.2f}x the plan" if planned else "nothing planned"


def describe_strategy(strategy: Any) -> str:
    """The :data:`SHARDED` name of a Lightning strategy object."""
    name = type(strategy).__name__
    if name == "DeepSpeedStrategy":
        stage = int(strategy.config.get("zero_optimization", {}).get("stage", 0))
        return f"deepspeed_stage_{stage}" if stage else "ddp"
    if name == "FSDPStrategy":
        sharding = str(getattr(strategy, "sharding_strategy", "FULL_SHARD"))
        if "NO_SHARD" in sharding:
            return "ddp"
        return "fsdp_shard_grad_op" if "SHARD_GRAD_OP" in sharding else "fsdp"
    return "ddp" if "DDP" in name else "single"
