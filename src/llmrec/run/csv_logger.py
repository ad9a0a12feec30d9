"""Lightning's CSV logger, continued across a resume: a run resumed from its last checkpoint (``resume=true``,
a SLURM requeue) appends to its ``metrics.csv`` and so keeps the epochs it logged before the interruption.
Lightning's writer deletes an existing file when it starts ("Previous log files in this directory will be
deleted"), which would leave a resumed run with the history of its last attempt only."""

from __future__ import annotations

import csv
from typing import Any

from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter


class ContinuedExperimentWriter(ExperimentWriter):
    """Appends to an existing ``metrics.csv`` under its own header (widened when new keys appear)."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = list(csv.DictReader(file).fieldnames or [])


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` whose ``metrics.csv`` is continued when ``continue_existing`` (the run's ``resume``)."""

    def __init__(self, *args: Any, continue_existing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.continue_existing = continue_existing

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None and self.continue_existing:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = ContinuedExperimentWriter(log_dir=self.log_dir)
        return super().experiment
