"""``python -m llmrec model=sasrec dataset=synthetic``: compose the config, seed, run, report.

User errors (missing files, impossible values) end the job with one line on stderr and exit code 2.
In a multirun any failed job is recorded (``failed.json``, with the traceback unless it is a user error)
and the sweep goes on; ``skip_done=true`` skips jobs whose ``results.json`` already exists.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from llmrec.errors import LlmrecError
from llmrec.report.summary import format_run_table
from llmrec.run.instantiate import check_seed
from llmrec.run.sweeps import clear_failure, finished_results, monitored_value, record_failure

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
log = logging.getLogger("llmrec")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    from llmrec.run.pipeline import run

    output_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    done = finished_results(output_dir) if cfg.get("skip_done", False) else None
    if done is not None:
        print(f"skip_done: {output_dir / 'results.json'} exists, job skipped")
        return monitored_value(done, str(cfg.eval.monitor))
    try:
        pl.seed_everything(check_seed(cfg.seed), workers=True, verbose=False)
        results = run(cfg, output_dir)
    except LlmrecError as error:
        message = str(error)
        log.error("%s", message)
        print(f"error: {message}", file=sys.stderr)
        if multirun:
            record_failure(output_dir, error)
            return float("nan")  # a sweeper (optuna) marks the trial failed and goes on
        sys.exit(2)
    except Exception as error:
        if not multirun:
            raise
        log.exception("job failed; the sweep goes on")
        print(f"error: job failed ({type(error).__name__}: {error}); see {output_dir / 'failed.json'}")
        record_failure(output_dir, error)
        return float("nan")
    clear_failure(output_dir)
    print(format_run_table(results))
    print(f"results: {output_dir / 'results.json'}")
    return monitored_value(results, str(cfg.eval.monitor))


def cli() -> None:
    """``main`` with Hydra's own command-line check (``-m`` with ``--cfg``) as one error line."""
    try:
        main()
    except ValueError as error:
        if "can be specified" not in str(error):
            raise
        print(
            f"error: {error}; to see one job's config drop -m: python -m llmrec --cfg job <overrides>",
            file=sys.stderr,
        )
        sys.exit(2)


if __name__ == "__main__":
    cli()
