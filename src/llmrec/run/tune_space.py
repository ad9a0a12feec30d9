"""A tuning search space: ``conf/hparams_search/<name>.yaml``, a plain mapping of config keys to
distributions, read and checked against the composed config before any trial runs.

    model.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    model.layers: {type: int, low: 1, high: 3}
    model.dropout: {type: categorical, choices: [0.1, 0.2, 0.5]}

The reserved key ``_sampler_: grid`` marks a space of categorical keys only that is tried whole (every
combination once: LLMSeqSim's aggregation x similarity); otherwise the tuner samples with TPE. An empty file
is a model with nothing to tune (one trial).
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from omegaconf import DictConfig, OmegaConf

from llmrec.configs import config_dir
from llmrec.errors import ConfigError

SPACE_GROUP = "hparams_search"
SAMPLER_KEY = "_sampler_"
SAMPLERS = ("tpe", "grid")
_ABSENT = object()


@dataclass(frozen=True)
class SearchSpace:
    """The distributions by config key, the file they came from and how they are sampled."""

    name: str
    path: Path
    params: dict[str, dict[str, Any]]
    sampler: str = "tpe"

    @property
    def is_grid(self) -> bool:
        return self.sampler == "grid"

    def grid(self) -> dict[str, list[Any]]:
        """The choices of every key (a grid space holds categorical keys only)."""
        return {key: list(spec["choices"]) for key, spec in self.params.items()}

    def grid_size(self) -> int:
        return math.prod(len(choices) for choices in self.grid().values())

    def grid_points(self) -> list[dict[str, Any]]:
        grid = self.grid()
        return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """One value per key, drawn by the study's sampler."""
        return {key: _suggest(trial, key, spec) for key, spec in self.params.items()}

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "file": str(self.path), "sampler": self.sampler, "params": self.params}


def available_spaces() -> list[str]:
    return sorted(path.stem for path in (config_dir() / SPACE_GROUP).glob("*.yaml"))


def space_path(name: str) -> Path:
    """``conf/hparams_search/<name>.yaml``, or ``name`` itself when it is a ``.yaml`` file of the user's."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else config_dir() / SPACE_GROUP / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"no search space {name!r} ({path} is not a file); choose tune.space= one of "
            f"{', '.join(available_spaces())} or a .yaml file of your own"
        )
    return path


def load_space(name: str) -> SearchSpace:
    """The space ``name`` (see :func:`space_path`) read and its distributions checked (not yet its keys)."""
    path = space_path(name)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of config keys to distributions")
    sampler = str(raw.pop(SAMPLER_KEY, "tpe"))
    if sampler not in SAMPLERS:
        raise ConfigError(f"{path}: {SAMPLER_KEY}={sampler} is not one of {', '.join(SAMPLERS)}")
    params = {str(key): _distribution(str(key), spec, path) for key, spec in raw.items()}
    if sampler == "grid" and any(spec["type"] != "categorical" for spec in params.values()):
        raise ConfigError(f"{path}: a grid space ({SAMPLER_KEY}: grid) takes categorical keys only")
    return SearchSpace(path.stem, path, params, sampler)


def check_keys(space: SearchSpace, cfg: DictConfig) -> None:
    """Every key of ``space`` names a value of the composed config; else one error naming key and file."""
    unknown = [key for key in space.params if not _exists(cfg, key)]
    if unknown:
        raise ConfigError(
            f"{space.path} names {', '.join(unknown)}, not a key of the composed config (model "
            f"{cfg.model.get('name')}); fix the key or choose another tune.space"
        )


def apply_params(cfg: DictConfig, params: dict[str, Any]) -> DictConfig:
    """A copy of ``cfg`` with each sampled value set at its key (interpolations elsewhere follow it)."""
    out = copy.deepcopy(cfg)
    for key, value in params.items():
        OmegaConf.update(out, key, value, merge=False)
    return out


def _exists(cfg: DictConfig, key: str) -> bool:
    found = OmegaConf.select(cfg, key, default=_ABSENT, throw_on_resolution_failure=False)
    return found is not _ABSENT


def _suggest(trial: optuna.Trial, key: str, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "categorical":
        return trial.suggest_categorical(key, spec["choices"])
    if kind == "int":
        return trial.suggest_int(key, spec["low"], spec["high"], step=spec["step"] or 1, log=spec["log"])
    return trial.suggest_float(key, spec["low"], spec["high"], step=spec["step"], log=spec["log"])


def _distribution(key: str, spec: Any, path: Path) -> dict[str, Any]:
    where = f"{path}: {key}"
    if not isinstance(spec, dict) or spec.get("type") not in ("float", "int", "categorical"):
        raise ConfigError(f"{where} must be {{type: float | int | categorical, ...}}, got {spec!r}")
    if spec["type"] == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: a categorical needs a non-empty list of choices")
        if any(choice is not None and not isinstance(choice, (bool, int, float, str)) for choice in choices):
            raise ConfigError(f"{where}: choices must be numbers, strings, booleans or null")
        return {"type": "categorical", "choices": choices}
    return _range(where, spec)


def _range(where: str, spec: dict[str, Any]) -> dict[str, Any]:
    cast = float if spec["type"] == "float" else int
    try:
        low, high = cast(spec["low"]), cast(spec["high"])
        step = None if spec.get("step") is None else cast(spec["step"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{where}: a {spec['type']} range needs numbers low and high (and step)") from None
    log = bool(spec.get("log", False))
    if not low < high or (log and low <= 0) or (log and step is not None):
        raise ConfigError(f"{where}: needs low < high, low > 0 with log: true, and no step with log")
    return {"type": spec["type"], "low": low, "high": high, "step": step, "log": log}
