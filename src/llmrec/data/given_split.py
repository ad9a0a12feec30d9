"""A dataset's published split (the Amazon Reviews 2023 benchmark files), followed instead of llmrec's own.

Every interaction carries the stage its file gave it (``TRAIN``, ``VALID``, ``TEST``), and the reader orders
each user's sequence by stage, then time, ties in file order, so the training part is a prefix. Training
reads that prefix only. Each user is evaluated at most once per stage (results are per user): on the first
interaction of the stage that has at least one item before it. With the ``last_out`` files (one valid and
one test row a user) these are exactly the files' targets; with the ``timestamp`` files (any number of
rows a user after each global cut-off) they are the user's first item after the cut-off. A target's input
is everything before it (the test input holds the user's valid items too), as in leave-one-out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmrec.data.interactions import SequenceData
from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError, DataError

TRAIN, VALID, TEST = 0, 1, 2
STAGE_FILES = {"train": TRAIN, "valid": VALID, "test": TEST}  # the benchmark's file suffixes
_EVAL_STAGE = {"val": VALID, "test": TEST}


def check_stages(data: SequenceData) -> np.ndarray:
    """The per-interaction stages, refusing data without them or with a stage out of order in a user."""
    if data.stages is None:
        raise ConfigError(
            "protocol=given follows a dataset's published train/valid/test files, which this dataset does "
            "not have; use dataset=amazon2023 dataset.split=last_out (or timestamp), or another protocol"
        )
    stages = data.stages
    within_user = np.ones(len(stages), dtype=bool)
    within_user[data.offsets[:-1]] = False  # a user's first interaction follows another user's last
    backwards = np.flatnonzero(within_user[1:] & (stages[1:] < stages[:-1]))
    if backwards.size:
        raise DataError(
            f"the published split is out of order at interaction {int(backwards[0]) + 1}: a user's train "
            f"items must precede their valid items, and those their test items; rebuild the dataset cache"
        )
    return stages


@dataclass
class GivenSplit(LeaveOneOut):
    """The split the dataset's files give (see the module); ``eval_sample`` is not used."""

    def __post_init__(self) -> None:
        self.stages = check_stages(self.data)
        self.user_of = np.repeat(np.arange(self.data.num_users), self.data.lengths())

    def train_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        starts, _ = self._bounds()
        train = np.bincount(self.user_of[self.stages == TRAIN], minlength=self.data.num_users)
        return starts, starts + train

    def _targets(self, code: int) -> np.ndarray:
        """Positions of the stage's interactions that have at least one item before them."""
        positions = np.flatnonzero(self.stages == code)
        return positions[positions > self._bounds()[0][self.user_of[positions]]]

    def eval_bounds(self, stage: str) -> tuple[np.ndarray, np.ndarray]:
        positions = self._targets(_EVAL_STAGE[stage])
        users, first = np.unique(self.user_of[positions], return_index=True)  # positions ascend
        return users, positions[first] + 1

    def target_counts(self) -> dict[str, int]:
        """Rows of the valid and test files (after the k-core) and how many of them are targets: fewer
        where a user has several (timestamp files) or a row has no item before it."""
        counts: dict[str, int] = {}
        for stage, code in _EVAL_STAGE.items():
            counts[f"{stage}_rows"] = int((self.stages == code).sum())
            counts[f"{stage}_targets"] = len(self.eval_users(stage))
        return counts
