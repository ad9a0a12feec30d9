"""Training sample schemas: one choice (``samples=tiled | prefixes | last_n | last_targets``, conf/samples/)
for every trainable model of a study, so no model trains on a regime of its own.

A schema fixes which training windows the data module cuts (``datamodule.train_windows``) and which of
their positions each model's loss trains on (``model.train_targets``, read from ``${samples.targets}``):

- ``tiled``: windows of ``max_len + 1`` items tiling each user's training part, every position a target
  once (``all``). One example = one target; an epoch has sum over users of (training length - 1).
- ``prefixes``: one window per target, ending at it, the loss at its last position (``last``). One example
  = one window = one target; the same targets as ``tiled``, one forward pass each.
- ``last_n``: each user's window at the end of the training part, every position a target (``all``): the
  last N = ``dataset.max_len`` targets of each user.
- ``last_targets``: ``prefixes`` restricted to each user's last ``samples.n`` targets (``last``): E4SRec's
  official samples (n = 50, each with its whole history when ``dataset.max_len`` covers it).

Models that subsample the schema's targets say so in their config (``lite_llm4rec_sample``, E4SRec's
``targets_per_window``, LLMSeqPrompt's ``train_positions: sample``); BERT4Rec masks cloze positions among
them (``all``) or the last item only (``last``).
"""

from __future__ import annotations

from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from llmrec.errors import ConfigError

# name -> (datamodule.train_windows, model.train_targets)
SCHEMAS: dict[str, tuple[str, str]] = {
    "tiled": ("all", "all"),
    "prefixes": ("prefixes", "last"),
    "last_n": ("recent", "all"),
    "last_targets": ("last_prefixes", "last"),
}
CHOICES = " | ".join(SCHEMAS)
# results.json files written before the samples key: the schema their train_windows meant
LEGACY = {"all": "tiled", "prefixes": "prefixes", "recent": "last_n"}


def _trains(cfg: DictConfig) -> bool:
    try:
        return bool(get_class(str(cfg.model._target_)).requires_training)
    except Exception:  # an unknown _target_ fails with its own message when the model is built
        return True


def _check_model(cfg: DictConfig, name: str, targets: str) -> None:
    model = str(cfg.model.get("name", cfg.model.get("_target_")))
    if "train_targets" in cfg.model:
        given = cfg.model.train_targets
        if given != targets:
            raise ConfigError(
                f"model.train_targets={given} disagrees with samples={name} (targets {targets}): choose the "
                f"schema with samples={CHOICES}, not model.train_targets"
            )
    elif targets != "all" and _trains(cfg):
        raise ConfigError(
            f"{model} has no train_targets setting, so it trains on every position of its windows: it "
            f"supports samples=tiled and last_n, not samples={name}"
        )


def check_samples(cfg: DictConfig) -> dict[str, Any]:
    """The resolved ``samples`` node, checked: a known schema, the data module's windows and the model's
    targets as the schema says (a model that cannot honour it is refused with the schemas it supports)."""
    node = cfg.get("samples")
    name = node.get("name") if node is not None else None
    if name not in SCHEMAS:
        raise ConfigError(f"samples={name} is not a sample schema: choose samples={CHOICES}")
    windows, targets = SCHEMAS[name]
    if (node.get("windows"), node.get("targets")) != (windows, targets):
        raise ConfigError(
            f"samples={name} means windows={windows}, targets={targets}; got windows={node.get('windows')}, "
            f"targets={node.get('targets')}: choose another schema instead of editing its keys"
        )
    if cfg.datamodule.get("train_windows") != windows:
        raise ConfigError(
            f"datamodule.train_windows={cfg.datamodule.get('train_windows')} disagrees with samples={name} "
            f"(windows {windows}): choose the schema with samples={CHOICES}"
        )
    if name == "last_targets" and cfg.datamodule.get("last_targets") != node.get("n"):
        raise ConfigError(
            f"datamodule.last_targets={cfg.datamodule.get('last_targets')} disagrees with samples.n="
            f"{node.get('n')}: set the number of targets per user with samples.n=<n>"
        )
    _check_model(cfg, name, targets)
    return samples_record(cfg)


def samples_record(cfg: DictConfig) -> dict[str, Any]:
    """``results.json``'s ``samples``: the resolved node; for a config from before it, the schema its
    ``datamodule.train_windows`` meant."""
    if cfg.get("samples") is not None:
        record = OmegaConf.to_container(cfg.samples, resolve=True)
        assert isinstance(record, dict)
        return {str(key): value for key, value in record.items()}
    windows = str(cfg.get("datamodule", {}).get("train_windows", "all"))
    name = LEGACY.get(windows, windows)
    return {"name": name, "windows": windows, "targets": SCHEMAS.get(name, (windows, "all"))[1]}
