"""``llmrec model=sasrec dataset=synthetic`` (or ``python -m llmrec ...``): compose the config, seed, run,
report.

User errors (missing files, impossible values) end the job with one line on stderr and exit code 2.
In a multirun any failed job is recorded (``failed.json``, with the traceback unless it is a user error)
and the sweep goes on; ``skip_done=true`` skips jobs whose ``results.json`` already exists. Under DDP
only rank zero prints the results table. Lightning and torch are imported when a run starts, so
``--help`` and ``--cfg`` answer quickly.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import hydra
from omegaconf import DictConfig

from llmrec.configs import config_dir
from llmrec.errors import LlmrecError

log = logging.getLogger("llmrec")


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from llmrec.run.sweeps import finished_results, monitored_value

    output_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    done = finished_results(output_dir) if cfg.get("skip_done", False) else None
    if done is not None:
        print(f"skip_done: {output_dir / 'results.json'} exists, job skipped")
        return monitored_value(done, str(cfg.eval.monitor))
    return _run_job(cfg, output_dir, multirun)


def _run_job(cfg: DictConfig, output_dir: Path, multirun: bool) -> float | None:
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.rank_zero import rank_zero_only

    from llmrec.report.tables import format_run_table
    from llmrec.run.instantiate import check_seed
    from llmrec.run.pipeline import run
    from llmrec.run.sweeps import clear_failure, monitored_value, record_failure

    try:
        pl.seed_everything(check_seed(cfg.seed), workers=True, verbose=False)
        results = run(cfg, output_dir)
    except LlmrecError as error:
        message = str(error)
        log.error("%s", message)
        print(f"error: {message}", file=sys.stderr)
        if multirun:
            record_failure(output_dir, error)
            return float("nan")  # the sweep goes on; report and sensitivity list failed.json
        sys.exit(2)
    except Exception as error:
        if not multirun:
            raise
        log.exception("job failed; the sweep goes on")
        print(f"error: job failed ({type(error).__name__}: {error}); see {output_dir / 'failed.json'}")
        record_failure(output_dir, error)
        return float("nan")
    clear_failure(output_dir)
    if rank_zero_only.rank == 0:  # under DDP every rank returns here; rank zero speaks for the run
        print(format_run_table(results))
        print(f"results: {output_dir / 'results.json'}")
    return monitored_value(results, str(cfg.eval.monitor))


def missing_config_dirs(argv: Sequence[str]) -> list[str]:
    """The ``--config-dir``/``-cd`` folders on the command line that do not exist (Hydra would print
    a bare message and exit 1)."""
    folders = [value for flag, value in pairwise(argv) if flag in ("--config-dir", "-cd")]
    folders += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--config-dir=")]
    return [folder for folder in folders if not Path(folder).is_dir()]


def cli() -> None:
    """The ``llmrec`` command: ``main`` with Hydra's own command-line checks as one error line."""
    missing = missing_config_dirs(sys.argv[1:])
    if missing:
        print(
            f"error: --config-dir {missing[0]} is not a folder; give a folder of your own configs "
            f"(e.g. --config-dir my_conf holding my_conf/model/my_model.yaml)",
            file=sys.stderr,
        )
        sys.exit(2)
    try:
        main()
    except ValueError as error:
        if "can be specified" not in str(error):
            raise
        print(
            f"error: {error}; to see one job's config drop -m: llmrec --cfg job <overrides>",
            file=sys.stderr,
        )
        sys.exit(2)


if __name__ == "__main__":
    cli()
