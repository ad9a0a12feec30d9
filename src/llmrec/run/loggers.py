"""Experiment loggers built from ``conf/logger/*.yaml``: W&B (offline unless a key is configured) and
TensorBoard (only when installed). wandb and tensorboard are imported inside the functions that need
them, so a run with the CSV logger never loads them.

W&B: one run per job; ``project``/``entity``/``group``/``tags`` come from the config; without
``WANDB_API_KEY`` and without an ``api.wandb.ai`` entry in ``~/.netrc`` the run is offline (written
under ``<output_dir>/wandb/offline-run-*``; upload later with ``wandb sync <that folder>``). Keys are
never copied into configs, logs or results. The resolved config goes into the run as it starts.
"""

from __future__ import annotations

import hashlib
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


def sweep_group_name(sweep_dir: str | Path) -> str:
    """The W&B group of a sweep's jobs and report: the folder's name and a hash of its absolute path,
    e.g. ``sweep-3f2a9c1e``, so two studies whose folders are both called ``sweep`` get two groups while
    every job of one sweep, and its report, name the same one. A hash rather than the path relative to the
    working directory: short whatever the depth (W&B caps a group at 128 characters), free of ``..``, and
    the name still starts with the folder's own."""
    path = Path(str(sweep_dir)).absolute()
    return f"{path.name}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"


def sweep_group() -> str | None:
    """The sweep folder's group (:func:`sweep_group_name`) when running as a Hydra multirun job, else
    None (single runs and runs without Hydra have no group)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return sweep_group_name(HydraConfig.get().sweep.dir)


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
    ``group``: the W&B group as given; None: the sweep folder's group in a multirun, none in a single
    run (a W&B sweep agent's runs are grouped by their sweep on W&B's side)."""
    from pytorch_lightning.loggers import WandbLogger

    if not project:
        raise ConfigError("logger.wandb.project is empty; e.g. logger.wandb.project=llmrec")
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(
        project=project,
        save_dir=save_dir,
        entity=entity,
        group=str(group) if group else sweep_group(),
        tags=[str(t) for t in tags],
        name=name,
        mode=wandb_mode(mode),
        job_type=job_type,
        log_model=False,
    )


def log_config_at_start(loggers: Sequence[Any], config: dict[str, Any]) -> None:
    """The run's resolved config (secret-looking keys redacted) into each W&B logger's run as it starts,
    so that a run killed before its end (a time limit, a preemption) still says what it ran; the copy in
    ``results.json`` replaces it when the run finishes (:func:`llmrec.run.wandb_runs.finish_job_run`)."""
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        if isinstance(logger, WandbLogger):  # starts the run; a no-op on the non-zero ranks of DDP
            logger.experiment.config.update(redact(config), allow_val_change=True)


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
