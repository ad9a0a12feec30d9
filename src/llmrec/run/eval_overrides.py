"""What a re-evaluation may change on a finished run's saved config: ``eval.*``, the evaluation batch size,
the protocol within the split the model trained on, and a generative model's decoding; anything else would
evaluate another model than the one trained, so it is refused with the keys that are allowed."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from llmrec.errors import ConfigError
from llmrec.run.protocols import DEFAULTS, OPTIONAL, protocol_settings, training_split

# the decode settings of a generative model (TIGER: beam or exact ranking, and their gap; LLMSeqPrompt: beam
# search or the authors' sampling) change how a trained model ranks, not what it learned, so they may change
# in a re-evaluation too
TIGER_DECODE = ("model.decode", "model.compare_decodes")
# absent from LLMSeqPrompt runs saved before they existed (2026-12-06): the class's defaults applied there
LLMSEQPROMPT_SAMPLING = ("model.decoding", "model.temperature", "model.top_p", "model.sample_seed")
LLMSEQPROMPT_DECODE = ("model.num_beams", "model.num_return_sequences", *LLMSEQPROMPT_SAMPLING)
DECODE_SETTINGS = {"tiger": TIGER_DECODE, "llmseqprompt": LLMSEQPROMPT_DECODE}
EDITABLE = ("eval.", "datamodule.eval_batch_size", "protocol")
# settings whose saved value may be null
NULLABLE = ("eval.export_topk", "eval.mask_history", "protocol.sample_file")
NULLABLE += tuple(f"protocol.{key}" for key in OPTIONAL)


def apply_eval_overrides(cfg: DictConfig, overrides: list[str]) -> None:
    """``eval.*=value``, ``datamodule.eval_batch_size`` and ``protocol=`` / ``protocol.*=`` (within the
    run's training split) on the run's saved config; other keys refused."""
    decode = DECODE_SETTINGS.get(str(OmegaConf.select(cfg, "model.name", default="")), ())
    for override in sorted(overrides, key=lambda text: not text.startswith("protocol=")):
        key, sep, value = override.partition("=")
        if not sep or not (key.startswith(EDITABLE) or key in decode):
            allowed = "; ".join(f"{name}: {', '.join(keys)}" for name, keys in DECODE_SETTINGS.items())
            raise ConfigError(
                f"{override!r}: only eval.*, protocol, protocol.* and a generative model's decode settings "
                f"({allowed}) change a re-evaluation (key=value)"
            )
        if key == "protocol":
            _switch_protocol(cfg, value)
            continue
        missing = OmegaConf.select(cfg, key, default=None) is None
        if missing and key not in NULLABLE and key not in LLMSEQPROMPT_SAMPLING:
            node = key.split(".")[0]
            known = sorted(f"{node}.{name}" for name in cfg.get(node) or {})
            raise ConfigError(f"{key} is not a setting of this run; known: {known}")
        try:
            value = OmegaConf.select(OmegaConf.from_dotlist([override]), key)
        except Exception as error:  # omegaconf's grammar errors: one line naming the override
            raise ConfigError(
                f"{override!r} cannot be parsed ({type(error).__name__}); e.g. eval.ks=[1,5]"
            ) from None
        OmegaConf.update(cfg, key, value, force_add=True)
        if key == "eval.mask_history":
            _follow_mask_override(cfg, value)


def _switch_protocol(cfg: DictConfig, name: str) -> None:
    """``protocol=<name>`` on a saved run, with that protocol's default settings: only where the model
    trained on the same split (:func:`training_split`: loo, loo_unmasked and sampled share one)."""
    if name not in DEFAULTS:
        raise ConfigError(f"protocol={name!r} is not a protocol; choose protocol={'|'.join(DEFAULTS)}")
    trained = protocol_settings(cfg)
    if training_split({"name": name, **DEFAULTS[name]}) != training_split(trained):
        raise ConfigError(
            f"protocol={name} ranks another split than this run's protocol={trained['name']}, so its "
            f"model trained on other targets; a re-evaluation switches only within one split (loo, "
            f"loo_unmasked and sampled share one leave-one-out split): train again with protocol={name}"
        )
    kept = {key: OmegaConf.select(cfg, f"protocol.{key}", default=None) for key in OPTIONAL}  # the same users
    OmegaConf.update(cfg, "protocol", {"name": name, **DEFAULTS[name], **kept}, merge=False, force_add=True)
    if "mask_history" in cfg.get("eval", {}):
        cfg.eval.mask_history = None  # the protocol decides the masking
    if "mask_history" in cfg.datamodule:  # a config saved when the data module read eval.mask_history
        cfg.datamodule.mask_history = DEFAULTS[name].get("mask_history", True)


def _follow_mask_override(cfg: DictConfig, mask: Any) -> None:
    """``eval.mask_history=<bool>`` on a saved run switches its protocol to the masked or unmasked form
    of the same split (loo <-> loo_unmasked, user_holdout's mask_history); sampled ranking has no
    history to mask."""
    if not isinstance(mask, bool):
        raise ConfigError(f"eval.mask_history must be true or false, got {mask!r}")
    name = str(cfg.protocol.name) if "protocol" in cfg else "loo"  # before protocols: loo
    if name == "sampled":
        raise ConfigError(
            "protocol=sampled ranks sampled candidates, never the history: eval.mask_history does not apply"
        )
    if name == "user_holdout":
        cfg.protocol.mask_history = mask
    else:
        OmegaConf.update(
            cfg, "protocol", {"name": "loo" if mask else "loo_unmasked", "mask_history": mask}, force_add=True
        )
    if "mask_history" in cfg.datamodule:  # a config saved when the data module read eval.mask_history
        cfg.datamodule.mask_history = mask
