"""Honest row names: a model run on a stand-in backbone carries it, so a toy run never reads as the paper's
method. ``model_label(result)`` reads the resolved ``config.model`` of a results.json:

- an LLM (``llmrec.models.layers.llm.LLMSpec``) built from a transformers config has random weights:
  ``tiny-llama,random`` (``tiny-`` for a hidden size of at most 256, else ``llama-<hidden>``);
- an LLM with a ``source`` (local folder or hub id; ``LLMSpec`` or ``llm=hf``'s ``hf_spec``) is named by its
  folder: ``llama-2-13b-hf``;
- ``minilm_spec`` (LLM) and ``encoders.minilm`` (item-text encoder) are ``minilm``; other encoders are
  named by their model folder (``bge-small-en-v1.5``) or class (``hashing``).

Item-side backbones come first, then the LLMs, then other text encoders (LLMSeqPrompt's title mapping):
``lite_llm4rec[minilm+tiny-t5,random]``, ``e4srec[tiny-llama,random]``, ``llm2sasrec[minilm]``,
``tiger[minilm+tiny-t5,random]`` (its item tokenizer's encoder, then its T5 or ``backbone`` folder),
``sasrec``. A model name that ends in its one backbone's name drops it: ``e4srec_minilm`` ->
``e4srec[minilm]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

TINY_HIDDEN = 256  # no paper's backbone is this small: a randomly built test stand-in


def _folder_name(path: str) -> str:
    return PurePosixPath(str(path).rstrip("/")).name.lower()


def _llm_name(spec: dict[str, Any]) -> str:
    if spec.get("source"):
        return _folder_name(spec["source"])
    config = spec.get("config") or {}
    family = str(config.get("_target_", "llm")).rsplit(".", 1)[-1].removesuffix("Config").lower()
    hidden = config.get("hidden_size") or config.get("d_model") or 0
    return f"tiny-{family},random" if hidden <= TINY_HIDDEN else f"{family}-{hidden},random"


def _encoder_name(spec: dict[str, Any]) -> str:
    target = str(spec["_target_"])
    if target.endswith(".minilm"):
        return "minilm"
    if spec.get("model"):
        return _folder_name(spec["model"])
    return target.rsplit(".", 1)[-1].removesuffix("Encoder").lower()


def _backbone(node: dict[str, Any]) -> tuple[int, str] | None:
    """(kind, name) of a config node that is a backbone: 1 an LLM, 2 a text encoder; else None."""
    target = str(node.get("_target_", ""))
    if target.endswith(".minilm_spec"):
        return 1, "minilm"
    if target.endswith((".LLMSpec", ".hf_spec")):
        return 1, _llm_name(node)
    if ".embeddings.encoders." in target:
        return 2, _encoder_name(node)
    if target.startswith("transformers.") and target.endswith("Config"):  # TIGER's random T5
        return 1, _llm_name({"config": node})
    return None


def _walk(node: Any, path: str) -> Iterator[tuple[str, int, str]]:
    if isinstance(node, dict):
        found = _backbone(node)
        if found is not None:
            yield path, *found
            return
        pretrained = node.get("backbone")  # TIGER: a T5 folder that replaces its random ``t5``
        if isinstance(pretrained, str) and pretrained:
            yield f"{path}.backbone", 1, _folder_name(pretrained)
        for key, value in node.items():
            if not (key == "t5" and pretrained):
                yield from _walk(value, f"{path}.{key}")


def backbones(model_config: dict[str, Any]) -> list[str]:
    """The backbone names of a resolved ``config.model``, item side first, without repeats."""
    found = sorted(_walk(model_config, "model"), key=lambda f: (0 if "item" in f[0] else f[1], f[0]))
    names: list[str] = []
    for _, _, name in found:
        if name not in names:
            names.append(name)
    return names


def model_label(result: dict[str, Any]) -> str:
    """The model name plus its backbones, e.g. ``e4srec[tiny-llama,random]``; ``sasrec`` without any."""
    model = str(result["model"])
    names = backbones(((result.get("config") or {}).get("model")) or {})
    if not names:
        return model
    if len(names) == 1:
        model = model.removesuffix(f"_{names[0].split(',')[0]}")
    return f"{model}[{'+'.join(names)}]"
