"""``python -m llmrec.tune model=sasrec dataset=beauty tune.trials=20 tune.seeds=3 [llmrec overrides]`` (or
``llmrec-tune ...``): tune a model's hyperparameters on validation with Optuna, the same number of trials
for every model, then run the best setting over seeds. The logic lives in :mod:`llmrec.run.tune`.

User errors end with one ``error: ...`` line on stderr and exit code 2.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

USAGE = """usage: python -m llmrec.tune model=<model> [dataset=<dataset>] [tune.trials=20] [tune.seeds=3]
                             [tune.seed_list=[0,1,2]] [tune.space=<conf/hparams_search name>]
                             [tune.dir=<folder>] [tune.state=<folder>] [tune.sampler_seed=0]
                             [tune.prune=true] [tune.prune_startup=5] [tune.prune_warmup=2]
                             [tune.trial_epochs=0] [any llmrec override]

Runs an Optuna study over conf/hparams_search/<model>.yaml (tune.space to choose another): tune.trials
trials (a grid space: its grid once; an empty space: one), each trained on train and scored on validation
(eval.monitor), pruned by a median pruner, each capped at tune.trial_epochs epochs when it is set (0:
the run's trainer.max_epochs, as the re-runs of the best). The study is stored in <tune.dir>/study.db
(default <paths.log_dir>/tune/<model>_<dataset>): the same command resumes it. tune.state names a
folder (e.g. in your repository) kept up to date with study.db and the finished re-runs; a tune.dir
without a study starts from it, so a study that outlasts a machine continues on another. The best trial
is then trained over the seeds into <tune.dir>/best/seed_<s>/ (test computed only there);
<tune.dir>/tuning.json records the trials, the best and the cost per trial.
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in args):
        print(USAGE)
        return 0
    import optuna

    from llmrec.cli import run_command
    from llmrec.run.tune import tune
    from llmrec.run.tune_settings import parse_args

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the tuner logs one line per trial itself
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    return run_command(lambda: tune(parse_args(args)))


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
