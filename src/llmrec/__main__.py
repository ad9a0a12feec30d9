"""``python -m llmrec model=sasrec dataset=synthetic``: compose the config, seed, run, report.

User errors (missing files, impossible values) end the job with one line on stderr and exit code 2.
In a multirun a failed job is recorded (``failed.json``) and the sweep goes on.
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

from llmrec.config import check_seed
from llmrec.errors import LlmrecError
from llmrec.io import write_json_atomic
from llmrec.report import format_run_table

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
log = logging.getLogger("llmrec")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    from llmrec.train import run

    output_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        pl.seed_everything(check_seed(cfg.seed), workers=True, verbose=False)
        results = run(cfg, output_dir)
    except LlmrecError as error:
        message = str(error)
        log.error("%s", message)
        print(f"error: {message}", file=sys.stderr)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            write_json_atomic(output_dir / "failed.json", {"status": "failed", "error": message})
            return None
        sys.exit(2)
    print(format_run_table(results))
    print(f"results: {output_dir / 'results.json'}")
    return results["metrics"]["val"].get(str(cfg.eval.monitor).removeprefix("val/"))


if __name__ == "__main__":
    main()
