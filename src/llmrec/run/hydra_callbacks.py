"""Hydra callbacks: each job's W&B run is closed with its results; every multirun ends with its
comparison report in the sweep folder (and in W&B when the W&B logger is on)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from llmrec.errors import LlmrecError
from llmrec.report.summary import Comparison, write_report

log = logging.getLogger(__name__)


class ReportOnMultirunEnd(Callback):
    def __init__(self, baseline: str | None = None, min_seeds: int = 3) -> None:
        self.baseline, self.min_seeds = baseline, min_seeds

    def _report(self, sweep_dir: Path) -> str | None:
        """The report's Markdown; a refused comparison (too few seeds, mixed protocols) still leaves the
        tables, with a warning; None when there is no report at all."""
        comparison = Comparison(self.baseline, min_seeds=self.min_seeds) if self.baseline else None
        try:
            return write_report(sweep_dir, comparison=comparison)
        except LlmrecError as error:
            log.warning("no %s for %s: %s", "comparison" if comparison else "report", sweep_dir, error)
        return self._report_without_comparison(sweep_dir) if comparison else None

    @staticmethod
    def _report_without_comparison(sweep_dir: Path) -> str | None:
        try:
            return write_report(sweep_dir)
        except LlmrecError as error:
            log.warning("no report for %s: %s", sweep_dir, error)
            return None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        markdown = self._report(sweep_dir)
        if markdown is None:
            return
        log.info("report of %s:\n%s", sweep_dir, markdown)
        wandb_cfg = OmegaConf.select(config, "logger.wandb", throw_on_missing=False)
        if wandb_cfg is not None:
            from llmrec.run.wandb_runs import log_report

            folder = log_report(
                sweep_dir,
                project=str(wandb_cfg.project),
                entity=wandb_cfg.get("entity"),
                mode=wandb_cfg.get("mode"),
                group=wandb_cfg.get("group"),
            )
            log.info("report logged to W&B run in %s", folder)


class FinishWandbRun(Callback):
    """Closes the job's W&B run (if any) with final metrics and ``results.json``, so the next job of
    a sequential sweep starts its own run."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        from llmrec.run.wandb_runs import finish_job_run

        output_dir = Path(HydraConfig.get().runtime.output_dir)
        try:
            fallback = OmegaConf.to_container(config, resolve=False)
        except Exception:  # the config is only a fallback for failed jobs: never fail the sweep over it
            fallback = None
        if isinstance(fallback, dict):
            fallback.pop("hydra", None)
        finish_job_run(output_dir, fallback if isinstance(fallback, dict) else None)
