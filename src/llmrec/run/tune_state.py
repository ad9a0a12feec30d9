"""``tune.state``: a copy of a study's state kept where it outlives the machine (e.g. in the repository), so
a study that outlasts a session continues on another machine. The tuner refreshes it after every trial and
every finished re-run of the best; a ``tune.dir`` without ``study.db`` starts from it.

It holds what a resume needs and nothing large: ``study.db`` (an SQLite backup, consistent while the study
writes) and each finished seed's ``results.json`` and ``best_params.json``. An unfinished seed starts again:
its checkpoints are not kept."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from llmrec.errors import ConfigError
from llmrec.io import current_umask

log = logging.getLogger(__name__)

STUDY = "study.db"
BEST_PARAMS = "best_params.json"  # in a re-run's folder: the parameters it trains, so a resume can check them
FINISHED_SEED = ("results.json", BEST_PARAMS)


def _trials_in(database: Path) -> int:
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
    except sqlite3.DatabaseError as error:
        raise ConfigError(
            f"{database} is not an Optuna study ({error}); delete it or give another tune.state"
        ) from None


def _backup(source: Path, target: Path) -> None:
    """SQLite's online backup into a temp file renamed over ``target``: never a half-copied study."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~current_umask())  # a file's ordinary mode, not mkstemp's 0600
    os.close(fd)
    try:
        with closing(sqlite3.connect(source)) as reader, closing(sqlite3.connect(tmp)) as writer:
            reader.backup(writer)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _copy_finished_seeds(source: Path, target: Path) -> int:
    copied = 0
    for results in sorted((source / "best").glob("seed_*/results.json")):
        seed_dir = target / "best" / results.parent.name
        seed_dir.mkdir(parents=True, exist_ok=True)
        for name in FINISHED_SEED:
            if (results.parent / name).is_file():
                shutil.copy2(results.parent / name, seed_dir / name)
        copied += 1
    return copied


def _check_apart(state: Path, folder: Path) -> None:
    if state.resolve() == folder.resolve():
        raise ConfigError(f"tune.state must name another folder than tune.dir ({folder}): it holds a copy")


def restore(state: str, folder: Path) -> None:
    """Start ``folder`` from the state when it has no study yet. A local study behind the state (the state
    has more trials: another machine went on) is refused rather than overwriting the state with less."""
    if not state:
        return
    saved = Path(state)
    _check_apart(saved, folder)
    if not (saved / STUDY).is_file():
        return
    if (folder / STUDY).is_file():
        ahead, local = _trials_in(saved / STUDY), _trials_in(folder / STUDY)
        if ahead > local:
            raise ConfigError(
                f"tune.state {saved} holds {ahead} trials, {folder / STUDY} only {local}: the state went on "
                f"elsewhere; delete {folder / STUDY} to continue from the state, or give another tune.state"
            )
        return
    _trials_in(saved / STUDY)  # a corrupt state fails here, before anything is copied
    _backup(saved / STUDY, folder / STUDY)
    seeds = _copy_finished_seeds(saved, folder)
    log.info(f"study restored from tune.state {saved}: {STUDY} and {seeds} finished re-run(s)")


def save(state: str, folder: Path) -> None:
    """Refresh the state from ``folder``: the study as it is now and every finished re-run."""
    if not state or not (folder / STUDY).is_file():
        return
    saved = Path(state)
    _check_apart(saved, folder)
    _backup(folder / STUDY, saved / STUDY)
    _copy_finished_seeds(folder, saved)
