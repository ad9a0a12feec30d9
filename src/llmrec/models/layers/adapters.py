"""LoRA adapters in peft's own format, so the ecosystem's tools read what llmrec trains.

A model's LoRA parts are the ``peft.PeftModel`` modules among its submodules, each named by its attribute
path: E4SRec's ``backbone``, LLMSeqPrompt's ``lm``, Lite-LLM4Rec's ``rec`` (Rec LLM) and
``item_llm.backbone`` (Item LLM). :func:`save_adapters` writes each with peft's ``save_pretrained``
(``adapter_config.json`` + ``adapter_model.safetensors``) to ``<root>/<part>/``; plain peft reads one
back onto the same backbone with ``PeftModel.from_pretrained(base, folder)``, and :func:`load_adapters`
(a model's ``adapters`` argument) sets a model's LoRA weights from such folders, bit for bit.

Only LoRA weights travel this way. The other trained tensors (E4SRec's projections and ID table,
Lite-LLM4Rec's projection and head, layers a model unfreezes inside a backbone) stay in the Lightning
checkpoint.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from torch import nn

from llmrec.errors import ConfigError
from llmrec.io import make_temp_dir, replace_dir_atomic

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
LORA_MARK = "lora_"  # in the name of every LoRA tensor peft creates (lora_A, lora_B, lora_embedding_*)
# settings that change what the same tensors compute: a folder that differs in one of them does not fit
MATCHING = ("peft_type", "r", "lora_alpha", "use_rslora", "use_dora")


def lora_parts(model: nn.Module) -> dict[str, Any]:
    """``{attribute path: PeftModel}`` for the outermost peft wrappers among ``model``'s submodules."""
    from peft import PeftModel

    parts: dict[str, Any] = {}
    for name, module in model.named_modules():
        inside = any(name.startswith(f"{outer}.") for outer in parts)
        if isinstance(module, PeftModel) and name and not inside:
            parts[name] = module
    return parts


def trained_outside_adapter(part: nn.Module) -> list[str]:
    """Names of ``part``'s trainable tensors that are not LoRA weights (not in its adapter folder)."""
    return [name for name, p in part.named_parameters() if p.requires_grad and LORA_MARK not in name]


def save_adapters(model: nn.Module, root: Path) -> dict[str, str]:
    """Each LoRA part of ``model`` saved by peft into ``root/<part>`` (an earlier export replaced
    atomically); returns ``{part: folder}``, empty for a model without LoRA."""
    saved = {}
    for name, part in lora_parts(model).items():
        outside = trained_outside_adapter(part)
        if outside:
            log.warning(
                "%s: %d trained tensors besides LoRA (e.g. %s) are not in its adapter folder; they are in "
                "the Lightning checkpoint",
                name,
                len(outside),
                outside[0],
            )
        folder = root / name
        tmp = make_temp_dir(root, prefix=f".{name}.")
        part.save_pretrained(str(tmp))
        replace_dir_atomic(tmp, folder)
        saved[name] = str(folder)
    return saved


def _part_folder(folder: Path, name: str, single: bool) -> Path:
    """``folder/<name>``, or ``folder`` itself when it is one adapter and the model has one part."""
    if single and (folder / ADAPTER_CONFIG).is_file():
        return folder
    source = folder / name
    if not (source / ADAPTER_CONFIG).is_file():
        raise ConfigError(
            f"model.adapters={folder} has no adapter for the model's LoRA part {name!r} (no {source}/"
            f"{ADAPTER_CONFIG}); give the adapters folder of a run of this model (<run dir>/adapters)"
        )
    return source


def _check_config(source: Path, part: Any, name: str) -> None:
    saved = json.loads((source / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    config = next(iter(part.peft_config.values())).to_dict()  # llmrec's parts hold one adapter
    ours = {key: getattr(value, "value", value) for key, value in config.items()}  # enums as saved
    differ = [key for key in MATCHING if saved.get(key) != ours.get(key)]
    targets = saved.get("target_modules")
    if sorted(targets or []) != sorted(ours.get("target_modules") or []):
        differ.append("target_modules")
    if differ:
        found = ", ".join(f"{key} {saved.get(key)} (model: {ours.get(key)})" for key in differ)
        raise ConfigError(
            f"the adapter in {source} does not fit the model's LoRA part {name!r}: {found}; set llm.lora "
            "as the run that saved it"
        )


def load_adapters(model: nn.Module, folder: Path) -> list[str]:
    """Set the LoRA weights of every LoRA part of ``model`` (built: after ``configure_model``) from
    ``folder`` as :func:`save_adapters` wrote it; returns the parts set. A missing part, other LoRA
    settings or another backbone's shapes are one ConfigError."""
    from peft import set_peft_model_state_dict
    from peft.utils import load_peft_weights

    parts = lora_parts(model)
    if not parts:
        raise ConfigError(f"model.adapters={folder}: {type(model).__name__} has no LoRA part (set llm.lora)")
    if not folder.is_dir():
        raise ConfigError(
            f"model.adapters={folder} is not a folder; give <run dir>/adapters of a finished run"
        )
    for name, part in parts.items():
        source = _part_folder(folder, name, single=len(parts) == 1)
        _check_config(source, part, name)
        weights = load_peft_weights(str(source), device="cpu")
        try:
            result = set_peft_model_state_dict(part, weights)
        except RuntimeError as error:  # size mismatch: another backbone
            raise ConfigError(
                f"the adapter in {source} does not fit the model's LoRA part {name!r} ({error}); use the "
                "llm config it was trained with"
            ) from None
        missing = [key for key in result.missing_keys if LORA_MARK in key]
        if missing or result.unexpected_keys:
            raise ConfigError(
                f"the adapter in {source} does not match the model's LoRA part {name!r}: missing "
                f"{missing[:3]}, unexpected {list(result.unexpected_keys)[:3]}"
            )
        log.info("LoRA part %s: weights from %s", name, source)
    return list(parts)
