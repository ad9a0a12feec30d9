"""User holdout (Harte et al., RecSys 2023, "Leveraging Large Language Models for Sequential
Recommendation"): whole users are held out, not their last items.

Users are ordered by their last interaction (``order='time'``, ties in user order) or by a seeded random
permutation (``order='random'``, for datasets without timestamps). The latest ``test_fraction`` of that
order are test users, the ``val_fraction`` before them validation users, the rest training users. A
held-out user's last item is the target and the items before it its prompt (the last ``max_len``);
training reads the training users' whole sequences and nothing of a held-out user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from llmrec.data.interactions import SequenceData
from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError

ORDERS = ("time", "random")


def _check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(
            f"protocol.{name} must be a number in (0, 1), got {value!r}; e.g. protocol.{name}=0.1"
        )
    return float(value)


def user_order(data: SequenceData, order: str, seed: int) -> np.ndarray:
    """User indices from the earliest last interaction to the latest (or in a seeded random order)."""
    if order not in ORDERS:
        raise ConfigError(f"protocol.order must be one of {list(ORDERS)}, got {order!r}")
    if order == "random":
        return np.random.default_rng(seed).permutation(data.num_users)
    if data.times is None:
        raise ConfigError(
            "protocol.order=time needs interaction timestamps, which this dataset's files do not carry "
            "(e.g. the processed Name.txt form); use protocol.order=random (a seeded random order)"
        )
    last = data.times[data.offsets[1:] - 1]  # sequences are chronological: the last item is the latest
    return np.argsort(last, kind="stable")


def holdout_groups(num_users: int, test_fraction: float, val_fraction: float) -> tuple[int, int]:
    """(validation users, test users) counts; refuses fractions that leave a group empty."""
    test = round(num_users * _check_fraction("test_fraction", test_fraction))
    val = round(num_users * _check_fraction("val_fraction", val_fraction))
    train = num_users - test - val
    if test < 1 or val < 1 or train < 1:
        raise ConfigError(
            f"protocol.test_fraction={test_fraction} and protocol.val_fraction={val_fraction} of "
            f"{num_users} users give {train} training, {val} validation and {test} test users; each "
            f"group needs at least one user: change the fractions (their sum must stay below 1)"
        )
    return val, test


@dataclass
class UserHoldout(LeaveOneOut):
    """The split of Harte et al.: training users' whole sequences train; held-out users are evaluated."""

    test_fraction: float = 0.1
    val_fraction: float = 0.1
    order: str = "time"
    seed: int = 0
    groups: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ranked = user_order(self.data, self.order, self.seed)
        val, test = holdout_groups(self.data.num_users, self.test_fraction, self.val_fraction)
        train_end = len(ranked) - val - test
        self.groups = {
            "train": np.sort(ranked[:train_end]),
            "val": np.sort(ranked[train_end : train_end + val]),
            "test": np.sort(ranked[train_end + val :]),
        }

    def train_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        starts, ends = self._bounds()
        train_ends = starts.copy()  # a held-out user has an empty training part
        train_users = self.groups["train"]
        train_ends[train_users] = ends[train_users]
        return starts, train_ends

    def eval_bounds(self, stage: str) -> tuple[np.ndarray, np.ndarray]:
        users = self.validated(stage, self.groups[stage])
        return users, self._bounds()[1][users]
