"""Run-time leakage guards: training windows never hold an evaluation target; item text is per item."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.guards import check_item_text, check_train_positions
from llmrec.data.interactions import SequenceData, flatten
from llmrec.data.split import LeaveOneOut
from llmrec.errors import DataError


def data() -> SequenceData:
    # Items repeat (item 1 is also a test target): the guard must work on positions, not ids.
    sequences = [[1, 2, 3, 1, 2, 1], [3, 3, 2, 1], [2, 1, 3, 2, 1, 3, 2]]
    items, offsets = flatten(sequences)
    return SequenceData(items, offsets, ["a", "b", "c"], ["1", "2", "3"], {"title": ["x", "y", "z"]})


@pytest.mark.parametrize("max_len", [1, 2, 3, 10])
def test_real_windows_pass_and_hold_only_training_positions(max_len: int) -> None:
    split = LeaveOneOut(data())
    positions, users = split.train_window_positions(max_len)
    check_train_positions(split.data.offsets, positions, users)
    windows, _ = split.train_windows(max_len)
    assert (split.items_at(positions) == windows).all()


class ShiftedSplit(LeaveOneOut):
    """A broken split: windows end one position too late, so they include the validation target."""

    def train_window_positions(
        self, max_len: int, recent_only: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        positions, users = super().train_window_positions(max_len, recent_only)
        return np.where(positions >= 0, positions + 1, -1), users


def test_window_with_a_validation_target_is_refused() -> None:
    with pytest.raises(DataError, match=r"leakage: .* validation or test target"):
        SequenceDataModule(ShiftedSplit(data()), max_len=3)


def test_window_reaching_into_another_user_is_refused() -> None:
    split = LeaveOneOut(data())
    positions, users = split.train_window_positions(3)
    positions[0, :] = np.arange(positions.shape[1]) + int(split.data.offsets[1])  # user 1's items
    with pytest.raises(DataError, match="leakage"):
        check_train_positions(split.data.offsets, positions, users)


def test_item_text_from_a_split_field_is_refused() -> None:
    with pytest.raises(DataError, match=r"leakage: item text field\(s\) \['user_history'\]"):
        check_item_text(["a", "b"], 2, ["title", "user_history"])


def test_item_text_not_one_per_item_is_refused() -> None:
    with pytest.raises(DataError, match="one string per item"):
        check_item_text(["a"], 2, ["title"])
    assert check_item_text(["a", "b"], 2, ["title", "brand"]) == ["a", "b"]
