"""How a pretrained backbone is loaded: the ``from_pretrained`` options a ``conf/llm/*.yaml`` passes through
(``device_map``, ``attn_implementation``, ``quantization``), each checked against this machine first.

Quantization goes through transformers' ``BitsAndBytesConfig``: ``8bit`` is LLM.int8() (E4SRec loads its
backbone with ``load_in_8bit=True``, github HestiaSky/E4SRec), ``4bit`` is QLoRA's NF4 with double
quantization and the backbone's ``dtype`` as compute dtype (Dettmers et al., arXiv 2305.14314). Both need
a CUDA GPU and the bitsandbytes package; FlashAttention-2 needs a CUDA GPU and the flash_attn package. What
the machine cannot do is one ConfigError when the backbone is configured, before anything is loaded.

``low_cpu_mem_usage`` is not an option: transformers >= 5 always loads weights straight into place and
drops that argument.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import torch

from llmrec.errors import ConfigError

ATTENTION = ("eager", "sdpa", "flash_attention_2")
QUANTIZATION = ("8bit", "4bit")


def cuda_available() -> bool:
    return torch.cuda.is_available()


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


@dataclass(frozen=True)
class LoadOptions:
    """``from_pretrained`` options of one backbone; ``None`` leaves transformers' default."""

    device_map: str | dict[str, Any] | None = None
    attn_implementation: str | None = None
    quantization: str | None = None

    def check(self, pretrained: bool, device: str | None, freeze: bool) -> None:
        """Refuse, in one line each, what the values or this machine cannot do."""
        self._check_values()
        if not pretrained and (self.device_map is not None or self.quantization is not None):
            key = "llm.device_map" if self.device_map is not None else "llm.quantization"
            raise ConfigError(
                f"{key} applies to pretrained weights (llm.source); a backbone built from llm.config is "
                f"random, in full precision and placed by Lightning: set {key}=null"
            )
        if device is not None and (self.device_map is not None or self.quantization is not None):
            raise ConfigError(
                "llm.device is set with llm.device_map or llm.quantization, which place the weights "
                "themselves: set llm.device=null"
            )
        if self.quantization is not None and not freeze:
            raise ConfigError(
                f"llm.quantization={self.quantization} weights cannot be trained: keep llm.freeze=true and "
                "train LoRA adapters (llm.lora) on them"
            )
        self._check_machine()

    def _check_values(self) -> None:
        if self.attn_implementation is not None and self.attn_implementation not in ATTENTION:
            raise ConfigError(
                f"llm.attn_implementation={self.attn_implementation} is not one of {', '.join(ATTENTION)} "
                "(or null: transformers' default)"
            )
        if self.quantization is not None and self.quantization not in QUANTIZATION:
            raise ConfigError(
                f"llm.quantization={self.quantization} is not one of {', '.join(QUANTIZATION)} (or null: "
                "the weights in llm.dtype)"
            )

    def _check_machine(self) -> None:
        needs = []
        if self.quantization is not None:
            needs.append((f"llm.quantization={self.quantization}", "bitsandbytes", "bitsandbytes"))
        if self.attn_implementation == "flash_attention_2":
            needs.append(("llm.attn_implementation=flash_attention_2", "flash_attn", "flash-attn"))
        for key, module, package in needs:
            fix = f"set {key.split('=')[0]}=null"
            if not cuda_available():
                raise ConfigError(f"{key} needs a CUDA GPU and this machine has none: {fix}")
            if not installed(module):
                raise ConfigError(f"{key} needs the {package} package: pip install {package}, or {fix}")

    def from_pretrained_kwargs(self, dtype: torch.dtype) -> dict[str, Any]:
        """The keyword arguments these options add to ``from_pretrained`` (only those set)."""
        kwargs: dict[str, Any] = {}
        if self.device_map is not None:
            kwargs["device_map"] = self.device_map
        if self.attn_implementation is not None:
            kwargs["attn_implementation"] = self.attn_implementation
        if self.quantization is not None:
            kwargs["quantization_config"] = bnb_config(self.quantization, dtype)
        return kwargs


def bnb_config(quantization: str, dtype: torch.dtype) -> Any:
    """transformers' BitsAndBytesConfig: LLM.int8() for ``8bit``, NF4 + double quantization for ``4bit``."""
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
    )


def prepare_quantized(model: Any, gradient_checkpointing: bool) -> Any:
    """peft's preparation of a k-bit backbone for adapter training: frozen, the non-quantized weights
    (norms, embeddings) in float32, and (non-reentrant) activation checkpointing when asked."""
    from peft import prepare_model_for_kbit_training

    return prepare_model_for_kbit_training(
        model,
        use_gradient_checkpointing=gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
    )
