"""``python -m llmrec.evaluate run_dir=<dir> [eval.* overrides]``: evaluate a finished run's checkpoint
again with other evaluation settings, next to the run (``<run>/evaluations/<name>/results.json``), never
over its ``results.json``. The logic lives in :mod:`llmrec.run.reevaluate`.

User errors end with one ``error: ...`` line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NamedTuple

USAGE = """usage: python -m llmrec.evaluate run_dir=<run folder> [name=<folder name>] [allow_code_change=true]
                                [splits=val|test|val,test]
                                [eval.ks=[1,5,10]] [eval.mask_history=false] [eval.export_topk=K]
                                [protocol=loo|loo_unmasked|sampled] [protocol.negatives=N ...]
                                [model.decode=beam|exact] [model.compare_decodes=true]
                                [model.decoding=beam|sample model.temperature=T model.top_p=P]
                                [model.num_beams=B model.num_return_sequences=R]

Evaluates the checkpoint a finished run tested (its config, data and model rebuilt from its results.json)
with other eval settings and writes <run_dir>/evaluations/<name, default: a timestamp>/results.json
(plus topk_test.parquet or .csv with eval.export_topk=K). A run trained by another code version is
refused unless allow_code_change=true; a run whose dataset changed since is refused. The run's protocol
is kept (sampled: the same candidates) unless protocol= switches it within the split it trained on:
loo, loo_unmasked and sampled share one leave-one-out split, so protocol=sampled gives a loo run's model
the paper-style 1 + 99 figure without training again (protocol.* set its negatives, sampling, seed,
sample_file). eval.mask_history=false re-evaluates a loo run as loo_unmasked. A generative model
(TIGER) may switch its decoding (model.decode) or measure beam search against exact ranking
(model.compare_decodes=true; protocol.eval_users=N on N users drawn once where exact is slow);
LLMSeqPrompt may switch from beam search to the authors' sampling (model.decoding=sample) or
change its beam width (model.num_beams, model.num_return_sequences).
splits=val evaluates on validation alone (its results.json has no test metrics): the way to choose such
a setting on validation without paying for a test pass; then evaluate the chosen one with splits=test.
"""


class Arguments(NamedTuple):
    run_dir: str
    name: str | None
    allow_code_change: bool
    overrides: list[str]
    splits: tuple[str, ...]


def parse(argv: Sequence[str]) -> Arguments:
    """The re-evaluation asked for by ``key=value`` arguments."""
    from llmrec.errors import ConfigError
    from llmrec.run.eval_pass import SPLITS

    run_dir, name, allow, overrides, splits = None, None, False, [], SPLITS
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError(f"{arg!r} is not key=value; e.g. run_dir=outputs/runs/<run> eval.ks=[1,5]")
        if key == "run_dir":
            run_dir = value
        elif key == "name":
            name = value
        elif key == "allow_code_change":
            if value.lower() not in ("true", "false"):
                raise ConfigError(f"allow_code_change must be true or false, got {value!r}")
            allow = value.lower() == "true"
        elif key == "splits":
            splits = tuple(value.split(","))
        else:
            overrides.append(arg)
    if not run_dir:
        raise ConfigError("run_dir=<run folder> is required: the output folder of a finished run")
    return Arguments(run_dir, name, allow, overrides, splits)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in args):
        print(USAGE)
        return 0
    from pathlib import Path

    from llmrec.cli import run_command
    from llmrec.report.tables import format_run_table
    from llmrec.run.reevaluate import reevaluate

    def evaluate() -> str:
        run_dir, name, allow, overrides, splits = parse(args)
        results, folder = reevaluate(Path(run_dir), overrides, name, allow, splits)
        return f"{format_run_table(results)}\nresults: {folder / 'results.json'}"

    return run_command(evaluate)


if __name__ == "__main__":
    sys.exit(main())
