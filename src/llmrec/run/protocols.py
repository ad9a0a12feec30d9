"""The evaluation protocol of a run, from its ``protocol`` config (conf/protocol/*.yaml): the split, whether
history is masked, and the sampled candidates; recorded as ``results["protocol"]``.

- ``loo``: leave-one-out by time, full ranking, history masked (llmrec's main protocol);
- ``loo_unmasked``: the same split, history not masked (RecBole's full-ranking figures);
- ``sampled``: the same split, each target ranked against ``negatives`` items the user never had, drawn
  (``uniform`` or ``popularity``-weighted, by ``seed``) and stored in the dataset cache, or read from an
  S3-Rec ``*_sample.txt`` (``sample_file``: a path, or ``auto`` for the one in ``dataset.root`` if any);
- ``user_holdout``: Harte et al.'s held-out users (:mod:`llmrec.data.holdout`);
- ``given``: the dataset's published train/valid/test files (:mod:`llmrec.data.given_split`), the only
  protocol for such data (``dataset=amazon2023 dataset.split=last_out``), full ranking, history masked.

A config without a ``protocol`` node (a run saved before protocols existed) is ``loo``, or
``loo_unmasked`` where its ``eval.mask_history`` was false.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from llmrec.data.candidates import read_sample_file, stored_negatives
from llmrec.data.given_split import GivenSplit
from llmrec.data.holdout import UserHoldout
from llmrec.data.interactions import SequenceData
from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError
from llmrec.io import sha256_file

DEFAULTS: dict[str, dict[str, Any]] = {
    "loo": {"mask_history": True},
    "loo_unmasked": {"mask_history": False},
    "sampled": {"negatives": 99, "sampling": "uniform", "seed": 0, "sample_file": None},
    "user_holdout": {
        "test_fraction": 0.1,
        "val_fraction": 0.1,
        "order": "time",
        "seed": 0,
        "mask_history": True,
    },
    "given": {"mask_history": True},
}
# an optional setting of the leave-one-out protocols, absent from results.json when null (every user)
EVAL_USERS = "eval_users"
EVAL_USERS_SEED = 0  # fixed, not the run's seed: every model and seed of a study ranks the same users
# optional for every protocol but given, absent when null: validation (early stopping, selection) ranks this
# many of the validation users, drawn once; the test ranks them all. For models whose evaluation is the cost.
VAL_USERS = "val_users"
VAL_USERS_SEED = 1  # fixed as EVAL_USERS_SEED, drawn apart from it
OPTIONAL = (EVAL_USERS, VAL_USERS)


@dataclass
class Protocol:
    """What a run's evaluation follows; ``params`` (name + parameters) goes into ``results.json``."""

    params: dict[str, Any]
    split: LeaveOneOut
    mask_history: bool = True
    candidates: np.ndarray | None = None  # (users, negatives) for the sampled protocol

    def users_per_split(self) -> dict[str, int]:
        """Training users (with a training part), validation and test users."""
        split = self.split
        return {
            "train_users": split.num_train_users,
            "val_users": len(split.eval_users("val")),
            "test_users": len(split.eval_users("test")),
        }


def protocol_settings(cfg: DictConfig) -> dict[str, Any]:
    """The ``protocol`` node with its defaults filled in (checked), agreeing with ``eval.mask_history``."""
    mask = OmegaConf.select(cfg, "eval.mask_history", default=None)
    node = cfg.get("protocol")
    if node is None:  # a config from before protocols: its eval.mask_history said which loo it was
        node = {"name": "loo" if mask in (None, True) else "loo_unmasked"}
    settings = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    assert isinstance(settings, dict)
    name = settings.get("name")
    if name not in DEFAULTS:
        raise ConfigError(f"protocol.name={name!r} is not a protocol; choose protocol={'|'.join(DEFAULTS)}")
    optional = {"user_holdout": [VAL_USERS], "given": []}.get(name, list(OPTIONAL))
    known = {*DEFAULTS[name], *optional}
    unknown = sorted(set(settings) - {"name", *known})
    if unknown:
        raise ConfigError(f"protocol={name} has no setting(s) {unknown}; known: {sorted(known)}")
    settings = {"name": name, **DEFAULTS[name], **settings}
    for key in OPTIONAL:
        if settings.get(key, 0) is None:
            del settings[key]  # every user: the plain protocol, recorded as before
    _check_settings(settings, mask)
    return settings


def training_split(settings: dict[str, Any]) -> str:
    """Which interactions a run trains on: one leave-one-out split for loo, loo_unmasked and sampled; for
    user_holdout, the split that holds its users out (a model trained under another split has seen them);
    for given, the dataset's own."""
    if settings["name"] == "given":
        return "given"
    if settings["name"] != "user_holdout":
        return "loo"
    keys = ("test_fraction", "val_fraction", "order", "seed")
    return "user_holdout(" + ", ".join(f"{key}={settings[key]}" for key in keys) + ")"


def _check_settings(settings: dict[str, Any], mask: Any) -> None:
    """The loo pair's fixed masking, the protocol's seed, and agreement with ``eval.mask_history``."""
    fixed = {"loo": True, "loo_unmasked": False}.get(settings["name"])
    if fixed is not None and settings["mask_history"] != fixed:
        raise ConfigError(
            f"protocol={settings['name']} {'masks' if fixed else 'does not mask'} the history; for the other "
            f"choose protocol={'loo_unmasked' if fixed else 'loo'}"
        )
    for key in OPTIONAL:
        sample = settings.get(key)
        if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or sample <= 0):
            raise ConfigError(
                f"protocol.{key} must be a positive integer or null (every user), got {sample!r}"
            )
    seed = settings.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ConfigError(f"protocol.seed must be a non-negative integer, got {seed!r}")
    if mask is None or settings.get("mask_history", mask) == mask:
        return
    if settings["name"] in ("loo", "loo_unmasked"):
        wanted = "loo" if mask else "loo_unmasked"
        raise ConfigError(
            f"eval.mask_history={mask} conflicts with protocol={settings['name']}; the protocol decides: "
            f"use protocol={wanted} and leave eval.mask_history unset (null)"
        )
    raise ConfigError(
        f"eval.mask_history={mask} conflicts with protocol={settings['name']}; set "
        f"protocol.mask_history={mask} instead (eval.mask_history: null)"
    )


def _find_sample_file(setting: Any, cfg: DictConfig) -> Path | None:
    """``sample_file``: None, a path, or ``auto`` (the one ``*_sample.txt`` in ``dataset.root``, if any)."""
    if setting is None:
        return None
    if setting != "auto":
        return Path(str(setting))
    root = Path(str(OmegaConf.select(cfg, "dataset.root", default=".")))
    found = sorted(root.glob("*_sample.txt")) if root.is_dir() else []
    if len(found) > 1:
        raise ConfigError(
            f"protocol.sample_file=auto found several sample files in {root}: {found}; name one"
        )
    return found[0] if found else None


def _leave_one_out(settings: dict[str, Any], data: SequenceData) -> LeaveOneOut:
    """The leave-one-out split, evaluating ``eval_users`` users drawn once with a fixed seed (or all)."""
    size = settings.get(EVAL_USERS)
    if size is None:
        return LeaveOneOut(data)
    if size > data.num_users:
        raise ConfigError(
            f"protocol.eval_users={size} exceeds the dataset's {data.num_users} users; choose fewer, or "
            f"null for every user"
        )
    drawn = np.random.default_rng(EVAL_USERS_SEED).choice(data.num_users, size=size, replace=False)
    return LeaveOneOut(data, eval_sample=np.sort(drawn))


def _sampled(settings: dict[str, Any], cfg: DictConfig, data: SequenceData, fingerprint: str) -> Protocol:
    split = _leave_one_out(settings, data)
    path = _find_sample_file(settings["sample_file"], cfg)
    if path is not None:
        candidates = read_sample_file(path, data)
        params = {**settings, "sample_file": str(path), "sample_file_sha256": sha256_file(path)}
        params |= {"sampling": "file", "negatives": int(candidates.shape[1]), "seed": None}
        return Protocol(params | _digest(candidates), split, mask_history=False, candidates=candidates)
    cache = Path(cfg.paths.cache_dir) / "datasets" / "candidates" if cfg.dataset.get("cache", True) else None
    negatives, sampling, seed = settings["negatives"], settings["sampling"], settings["seed"]
    drawn = stored_negatives(data, fingerprint, (negatives, sampling, seed), split.train_item_counts(), cache)
    return Protocol(settings | _digest(drawn), split, mask_history=False, candidates=drawn)


def _digest(candidates: np.ndarray) -> dict[str, str]:
    """A checksum of the candidates, so a re-evaluation can prove it ranks against the same ones."""
    return {
        "candidates_sha256": hashlib.sha256(np.ascontiguousarray(candidates, np.int64).tobytes()).hexdigest()
    }


def draw_validation_users(split: LeaveOneOut, size: int | None) -> None:
    """Validate on ``size`` of the split's validation users, drawn once with a fixed seed (None: all)."""
    if size is None:
        return
    users = split.eval_users("val")
    if size > len(users):
        raise ConfigError(
            f"protocol.val_users={size} exceeds the {len(users)} validation users; choose fewer, or null "
            f"for every one"
        )
    drawn = np.random.default_rng(VAL_USERS_SEED).choice(users, size=size, replace=False)
    split.val_sample = np.sort(drawn)


def build_protocol(cfg: DictConfig, data: SequenceData, fingerprint: str) -> Protocol:
    """The run's protocol over ``data`` (``fingerprint`` keys the stored candidates)."""
    protocol = _build(protocol_settings(cfg), cfg, data, fingerprint)
    draw_validation_users(protocol.split, protocol.params.get(VAL_USERS))
    return protocol


def _build(settings: dict[str, Any], cfg: DictConfig, data: SequenceData, fingerprint: str) -> Protocol:
    name = settings["name"]
    if name == "given":
        split = GivenSplit(data)
        return Protocol(settings | split.target_counts(), split, mask_history=bool(settings["mask_history"]))
    if data.stages is not None:
        raise ConfigError(
            f"this dataset carries its published train/valid/test split (dataset.split=last_out or "
            f"timestamp): evaluate it with protocol=given, or choose dataset.split=raw for protocol={name}"
        )
    if name == "sampled":
        return _sampled(settings, cfg, data, fingerprint)
    if name == "user_holdout":
        keys = ("test_fraction", "val_fraction", "order", "seed")
        split = UserHoldout(data, **{key: settings[key] for key in keys})
        return Protocol(settings, split, mask_history=bool(settings["mask_history"]))
    return Protocol(settings, _leave_one_out(settings, data), mask_history=bool(settings["mask_history"]))
