"""``python -m llmrec.tune``: an equal tuning budget per model, chosen on validation only.

1. Compose llmrec's config from the overrides and read the model's search space
   (``conf/hparams_search/<model>.yaml``); a bad setting or an unknown key fails here, before any trial.
2. Run the Optuna study (:mod:`llmrec.run.tune_study`): ``tune.trials`` trials for every model (TPE with a
   fixed seed; a grid space tries its grid once; an empty space one trial), each fit on train and scored
   on validation (:mod:`llmrec.run.tune_trial`), pruned on validation, a failed one recorded and skipped.
   The study is stored in ``<tune.dir>/study.db``, so the same command resumes an interrupted run;
   ``tune.state`` keeps a copy elsewhere (:mod:`llmrec.run.tune_state`) that another machine continues from.
3. Train the best trial's parameters again over ``tune.seeds`` seeds with the full pipeline, test
   included (:mod:`llmrec.run.tune_best`; on a resume a finished seed is read, an interrupted one continues
   from its last checkpoint), and write ``<tune.dir>/tuning.json``.
"""

from __future__ import annotations

import logging
from typing import Any

from llmrec.run.tune_best import rerun_best, summary, write_summary
from llmrec.run.tune_settings import TuneSettings
from llmrec.run.tune_state import restore as restore_state
from llmrec.run.tune_study import best_trial, open_study, prepare, run_study

log = logging.getLogger(__name__)


def tune(settings: TuneSettings) -> dict[str, Any]:
    """Steps 1-3 above; returns the content of ``tuning.json`` (also written after the study, so a failure
    of the re-runs still leaves the trials on record)."""
    job = prepare(settings)
    restore_state(settings.state, job.folder)
    study = open_study(job)
    log.info(f"browse the study: {job.dashboard}")
    run_study(job, study)
    content = summary(job, study)
    path = write_summary(job, content)
    best = best_trial(study)
    content["best"] = {"number": best.number, "params": best.params, "value": best.value}
    log.info(f"best trial {best.number}: {job.cfg.eval.monitor}={best.value:.4f} {best.params}")
    content["seeds"] = rerun_best(job, best.params)
    write_summary(job, content)
    log.info(f"tuning: {path}")
    return content
