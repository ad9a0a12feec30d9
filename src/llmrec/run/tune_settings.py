"""The tuner's own ``tune.*`` arguments, read from the command line beside llmrec's overrides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from llmrec.checks import positive_int
from llmrec.errors import ConfigError

DEFAULTS = {
    "trials": "20",
    "seeds": "3",
    "seed_list": "",
    "space": "",
    "dir": "",
    "state": "",
    "sampler_seed": "0",
    "prune": "true",
    "prune_startup": "5",
    "prune_warmup": "2",
    "trial_epochs": "0",
}


@dataclass(frozen=True)
class TuneSettings:
    """``trials``: the study's budget (the same for every model); ``seeds``: seeds the best trial is run
    again with; ``space``/``dir``: empty for the defaults (the model's name, outputs/tune/<model>_<dataset>);
    pruning by a median pruner after ``prune_startup`` trials and ``prune_warmup`` validated epochs;
    ``trial_epochs``: each trial's epoch cap (0: the run's ``trainer.max_epochs``, as the re-runs), a
    smaller search budget than the final runs', the same for every model of a comparison; ``state``: a
    folder kept up to date with the study and its finished re-runs, which a ``dir`` without a study starts
    from (empty: none; :mod:`llmrec.run.tune_state`)."""

    trials: int = 20
    seeds: tuple[int, ...] = (0, 1, 2)
    space: str = ""
    dir: str = ""
    state: str = ""
    sampler_seed: int = 0
    prune: bool = True
    prune_startup: int = 5
    prune_warmup: int = 2
    trial_epochs: int = 0
    overrides: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        positive_int(self.trials, "tune.trials")
        if not self.seeds:
            raise ConfigError("tune.seeds must be a positive integer (the best trial is re-run over them)")


def _int(value: str, key: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"tune.{key} must be {kind}, got {value!r}")
    return number


def _bool(value: str, key: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ConfigError(f"tune.{key} must be true or false, got {value!r}")
    return value.lower() == "true"


def _seeds(raw: dict[str, str]) -> tuple[int, ...]:
    if not raw["seed_list"]:
        return tuple(range(_int(raw["seeds"], "seeds", 1)))
    parts = [part.strip() for part in raw["seed_list"].strip("[]").split(",") if part.strip()]
    seeds = tuple(_int(part, "seed_list", 0) for part in parts)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"tune.seed_list must list distinct seeds, e.g. [0,1,2]; got {raw['seed_list']!r}")
    return seeds


def parse_args(argv: Sequence[str]) -> TuneSettings:
    """``tune.<key>=value`` arguments become the settings; every other ``key=value`` is an llmrec override."""
    raw, overrides = dict(DEFAULTS), []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError(f"{arg!r} is not key=value; e.g. model=sasrec tune.trials=20")
        if not key.startswith("tune."):
            overrides.append(arg)
            continue
        name = key.removeprefix("tune.")
        if name not in DEFAULTS:
            raise ConfigError(
                f"unknown tuner setting {key}; known: {', '.join('tune.' + k for k in DEFAULTS)}"
            )
        raw[name] = value
    return TuneSettings(
        trials=_int(raw["trials"], "trials", 1),
        seeds=_seeds(raw),
        space=raw["space"],
        dir=raw["dir"],
        state=raw["state"],
        sampler_seed=_int(raw["sampler_seed"], "sampler_seed", 0),
        prune=_bool(raw["prune"], "prune"),
        prune_startup=_int(raw["prune_startup"], "prune_startup", 0),
        prune_warmup=_int(raw["prune_warmup"], "prune_warmup", 0),
        trial_epochs=_int(raw["trial_epochs"], "trial_epochs", 0),
        overrides=tuple(overrides),
    )
