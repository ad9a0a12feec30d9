"""Hydra callbacks: every multirun ends with its comparison report in the sweep folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from llmrec.errors import LlmrecError
from llmrec.report import write_report

log = logging.getLogger(__name__)


class ReportOnMultirunEnd(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            markdown = write_report(sweep_dir)
        except LlmrecError as error:
            log.warning("no report for %s: %s", sweep_dir, error)
            return
        log.info("report of %s:\n%s", sweep_dir, markdown)
