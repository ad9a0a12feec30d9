"""Experiment loggers built from ``conf/logger/*.yaml``: W&B (offline unless a key is configured) and
TensorBoard (only when installed). wandb and tensorboard are imported inside the functions that need
them, so a run with the CSV logger never loads them.

W&B: one run per job; ``project``/``entity``/``group``/``tags`` come from the config; without
``WANDB_API_KEY`` and without an ``api.wandb.ai`` entry in ``~/.netrc`` the run is offline (written
under ``<output_dir>/wandb/offline-run-*``; upload later with ``wandb sync <that folder>``). Keys are
never copied into configs, logs or results.
"""

from __future__ import annotations

import netrc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmrec.errors import ConfigError

WANDB_MODES = ("online", "offline", "disabled")
SECRET_WORDS = ("api_key", "apikey", "token", "secret", "password")


def has_wandb_credentials(host: str = "api.wandb.ai") -> bool:
    """True when an API key is configured: ``WANDB_API_KEY`` or a ``~/.netrc`` entry for ``host``."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return path.is_file() and netrc.netrc(str(path)).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode(mode: str | None) -> str:
    """``mode`` if given, else ``WANDB_MODE`` if set, else online with credentials and offline without."""
    chosen = mode or os.environ.get("WANDB_MODE") or ("online" if has_wandb_credentials() else "offline")
    if chosen not in WANDB_MODES:
        raise ConfigError(f"logger.wandb.mode={chosen!r} is not one of {', '.join(WANDB_MODES)}")
    return chosen


def redact(value: Any) -> Any:
    """A copy of a config with secret-looking keys (api_key, token, ...) replaced by ``***``."""
    if isinstance(value, dict):
        return {
            k: "***" if any(w in str(k).lower() for w in SECRET_WORDS) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def group_name(group: str | None) -> str | None:
    """A sweep folder (``outputs/multiruns/2026-01-01_10-00-00``) becomes its last component."""
    return Path(str(group)).name if group else None


def sweep_group() -> str | None:
    """The sweep folder's name when running as a Hydra multirun job, else None (single runs and
    runs without Hydra have no group)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return group_name(HydraConfig.get().sweep.dir)


def wandb_logger(
    project: str,
    save_dir: str,
    entity: str | None = None,
    group: str | None = None,
    tags: Sequence[Any] = (),
    name: str | None = None,
    mode: str | None = None,
    job_type: str = "train",
) -> Any:
    """Lightning's ``WandbLogger`` for one job; checkpoints are not uploaded (``results.json`` is).
    ``group=None``: the sweep folder's name in a multirun, no group in a single run."""
    from pytorch_lightning.loggers import WandbLogger

    if not project:
        raise ConfigError("logger.wandb.project is empty; e.g. logger.wandb.project=llmrec")
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(
        project=project,
        save_dir=save_dir,
        entity=entity,
        group=group_name(group) if group else sweep_group(),
        tags=[str(t) for t in tags],
        name=name,
        mode=wandb_mode(mode),
        job_type=job_type,
        log_model=False,
    )


def tensorboard_logger(save_dir: str, name: str = "tensorboard", version: str = "") -> Any:
    """Lightning's ``TensorBoardLogger``; one clear error when tensorboard is not installed."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            raise ConfigError(
                "logger=tensorboard needs the tensorboard package: pip install tensorboard "
                "(or use logger=csv or logger=wandb)"
            ) from None
    from pytorch_lightning.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=save_dir, name=name, version=version)
