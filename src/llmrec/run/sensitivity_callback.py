"""Hydra callback: a multirun over protocols ends with its protocol-sensitivity table in the sweep folder
(``sensitivity.md``, ``sensitivity.csv``, ``sensitivity_pairs.csv``; see :mod:`llmrec.report.sensitivity`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from llmrec.errors import LlmrecError
from llmrec.report.sensitivity import write_sensitivity

log = logging.getLogger(__name__)


class SensitivityOnMultirunEnd(Callback):
    def __init__(self, metric: str = "ndcg_10") -> None:
        self.metric = metric

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            markdown = write_sensitivity([sweep_dir], sweep_dir, self.metric)
        except LlmrecError as error:  # a sweep whose every job failed still ends normally
            log.warning("no sensitivity table for %s: %s", sweep_dir, error)
            return
        log.info("protocol sensitivity of %s:\n%s", sweep_dir, markdown)
