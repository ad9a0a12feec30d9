"""hydra-submitit-launcher's launchers with every job launched ``resume=true`` (``llmrec.run.slurm`` says
why and how a requeued job resumes). Defined only where hydra-submitit-launcher is installed (the
``launchers`` extra): Hydra imports every plugin module at startup, and llmrec runs without it."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from hydra.core.utils import JobReturn

from llmrec.run.slurm import resuming_overrides

if importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is not None:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher

    class ResumingSlurmLauncher(SlurmLauncher):
        """SLURM jobs with ``resume=true``, and the trainer told the allocation's size
        (``trainer.num_nodes`` = ``nodes``, ``trainer.devices`` = ``gpus_per_node``), which Lightning
        checks against SLURM's task count."""

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            sizes = {"num_nodes": self.params.get("nodes"), "devices": self.params.get("gpus_per_node")}
            return super().launch([resuming_overrides(o, sizes) for o in job_overrides], initial_job_idx)

    class ResumingLocalLauncher(LocalLauncher):
        """The same on submitit's local executor: jobs with ``resume=true``."""

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            return super().launch([resuming_overrides(o) for o in job_overrides], initial_job_idx)
