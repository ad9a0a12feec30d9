"""``hydra/launcher=slurm``: hydra-submitit-launcher's SLURM launcher whose jobs resume after a requeue.

One mechanism requeues: submitit's. SLURM signals the job (``USR2``, ``signal_delay_s`` before its time
limit, or on preemption); submitit calls the launcher's ``checkpoint``, which resubmits the same Hydra job
(same overrides, same output folder) and requeues it, up to ``max_num_timeout`` times for time-outs. Each
job is launched with ``resume=true``, so the requeued job continues from its own ``last.ckpt`` (written every
epoch; the epoch in progress is trained again). Lightning's own SLURM auto-requeue answers ``SIGUSR1`` only,
which this launcher never asks SLURM to send, so it stays idle: two requeues of one job, or Lightning's
``hpc_ckpt`` files beside llmrec's checkpoints, cannot happen. ``hydra/launcher=slurm_local`` is the same
launcher on submitit's local executor (tests, a workstation). The launcher classes live in
``hydra_plugins.llmrec_launchers`` (Hydra loads launchers from that namespace only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _given(overrides: Sequence[str], key: str) -> bool:
    return any(o.lstrip("+~").split("=", 1)[0] == key for o in overrides)


def resuming_overrides(overrides: Sequence[str], sizes: dict[str, Any] | None = None) -> list[str]:
    """A job's overrides with ``resume=true`` and the trainer sizes in ``sizes`` (``trainer.num_nodes``,
    ``trainer.devices``) added, unless the user gave them."""
    extra = {"resume": "true", **{f"trainer.{k}": v for k, v in (sizes or {}).items() if v is not None}}
    added = [f"{'' if key == 'resume' else '++'}{key}={value}" for key, value in extra.items()]
    return [*overrides, *(o for o in added if not _given(overrides, o.lstrip("+").split("=", 1)[0]))]
