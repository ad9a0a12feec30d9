"""k-core, id remapping, leave-one-out split and the batches models read."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec.data.batch import trim_left_padding
from llmrec.data.datamodule import LengthGroupedSampler, SequenceDataModule
from llmrec.data.interactions import Interactions
from llmrec.data.preprocess import build_sequence_data, k_core_mask
from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError, DataError


def data_from(sequences: list[list[int]], k: int = 0):
    raw = Interactions(
        users=[f"u{i}" for i in range(len(sequences))], sequences=[[str(x) for x in s] for s in sequences]
    )
    return build_sequence_data(raw, k_core=k)


def test_k_core_reaches_the_fixed_point_by_hand() -> None:
    # Items a,b,c appear 3x; d appears 2x. With k=3 user 3 (a,d,d... ) loses d, falls below 3, and
    # then item c drops below 3, which removes user 2 in a second round.
    users = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    items = np.array([0, 1, 2, 0, 1, 2, 0, 1, 3, 2, 3, 0])
    # Round 1: item 3 has 2 -> drop (user2 idx8, user3 idx10). user2 has 2, user3 has 2 -> drop.
    # Round 2: item 2 now has 2 (users 0,1), item 0 has 2... -> everything collapses.
    keep = k_core_mask(users, items, 3)
    assert not keep.any()
    keep2 = k_core_mask(users, items, 2)
    kept_items = items[keep2]
    kept_users = users[keep2]
    assert all(np.sum(kept_items == i) >= 2 for i in np.unique(kept_items))
    assert all(np.sum(kept_users == u) >= 2 for u in np.unique(kept_users))
    # A fixed point: filtering again changes nothing.
    assert k_core_mask(kept_users, kept_items, 2).all()


def test_ids_are_renumbered_by_first_appearance_and_short_users_dropped() -> None:
    data = data_from([[7, 9, 7, 3], [9, 3], [3, 7, 9]])
    assert data.item_ids == ["7", "9", "3"]
    assert data.user_ids == ["u0", "u2"]  # u1 has 2 interactions < 3
    assert data.sequence(0).tolist() == [1, 2, 1, 3]
    assert data.sequence(1).tolist() == [3, 1, 2]


def test_empty_after_filtering_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="empty after 5-core"):
        data_from([[1, 2, 3], [4, 5, 6]], k=5)
    with pytest.raises(ConfigError, match="k_core"):
        data_from([[1, 2, 3]], k=-1)


def test_split_targets_and_inputs() -> None:
    split = LeaveOneOut(data_from([[1, 2, 3, 4, 5], [6, 7, 8]]))
    val_rows, val_hist, val_off = split.eval_rows("val", max_len=3)
    test_rows, test_hist, test_off = split.eval_rows("test", max_len=3)
    assert val_rows.tolist() == [[1, 2, 3, 4], [0, 0, 6, 7]]
    assert test_rows.tolist() == [[2, 3, 4, 5], [0, 6, 7, 8]]
    assert val_hist[val_off[0] : val_off[1]].tolist() == [1, 2, 3]
    assert test_hist[test_off[0] : test_off[1]].tolist() == [1, 2, 3, 4]
    assert test_hist[test_off[1] : test_off[2]].tolist() == [6, 7]


@pytest.mark.parametrize("max_len", [1, 2, 3, 7])
def test_training_never_sees_validation_or_test_positions(max_len: int) -> None:
    rng = np.random.default_rng(0)
    sequences = [list(rng.integers(1, 30, size=int(rng.integers(3, 20)))) for _ in range(40)]
    data = data_from(sequences)
    windows, users = LeaveOneOut(data).train_windows(max_len)
    for u in range(data.num_users):
        train_part = data.sequence(u)[:-2].tolist()
        mine = windows[users == u]
        targets = []
        for row in mine:
            real = [x for x in row.tolist() if x != 0]
            # Each window is a contiguous slice of the training part, never beyond it.
            assert any(train_part[i : i + len(real)] == real for i in range(len(train_part)))
            targets += real[1:]
        # Every training position after the first is a target exactly once.
        assert sorted(targets) == sorted(train_part[1:])


def test_recent_windows_are_each_users_last_max_len_targets() -> None:
    data = data_from([list(range(1, 12)), [3, 4, 5, 6], [7, 8, 9]])  # training parts: 1..9, 3 4, 7
    split = LeaveOneOut(data)
    positions, users = split.train_window_positions(3, recent_only=True)
    assert users.tolist() == [0, 1]  # user 2's training part has no target
    assert split.items_at(positions).tolist() == [[6, 7, 8, 9], [0, 0, 3, 4]]
    module = SequenceDataModule(split, max_len=3, train_windows="recent")
    assert len(module.train_set) == 2
    assert len(SequenceDataModule(split, max_len=3).train_set) == 4  # all: 1-3, 3-6, 6-9 tiled, and 3-4
    with pytest.raises(ConfigError, match="train_windows"):
        SequenceDataModule(split, max_len=3, train_windows="latest")


def test_train_item_counts_use_only_training_parts() -> None:
    split = LeaveOneOut(data_from([[1, 2, 3, 4], [2, 3, 4]]))
    assert split.train_item_counts().tolist() == [0, 1, 2, 0, 0]


def test_trim_left_padding_keeps_the_target_column() -> None:
    rows = torch.tensor([[0, 0, 0, 1, 2], [0, 0, 3, 4, 5]])
    assert trim_left_padding(rows).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert trim_left_padding(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 2)


def test_length_grouped_sampler_is_a_permutation() -> None:
    lengths = torch.randint(1, 50, (1000,))
    order = list(LengthGroupedSampler(lengths, batch_size=32, group=4))
    assert sorted(order) == list(range(1000))


def test_datamodule_batches_and_history_masks() -> None:
    split = LeaveOneOut(data_from([[1, 2, 3, 4, 5], [6, 7, 8], [1, 6, 2, 7]]))
    dm = SequenceDataModule(split, max_len=3, batch_size=2, eval_batch_size=3)
    batch = next(iter(dm.test_dataloader()))
    assert batch.items[:, -1].tolist() == [5, 8, 7]
    assert batch.users.tolist() == [0, 1, 2]
    assert [sorted(x for x in row if x) for row in batch.seen.tolist()] == [[1, 2, 3, 4], [6, 7], [1, 2, 6]]
    train = list(dm.train_dataloader())
    assert sum(b.items.shape[0] for b in train) == len(dm.train_set)
    with pytest.raises(ConfigError, match="max_len"):
        SequenceDataModule(split, max_len=0)


def test_eval_batches_are_built_once_and_handed_out_again() -> None:
    split = LeaveOneOut(data_from([[1, 2, 3, 4, 5], [6, 7, 8], [1, 6, 2, 7]]))
    dm = SequenceDataModule(split, max_len=3, eval_batch_size=2, eval_by_length=True)
    first, again = list(dm.val_dataloader()), list(dm.val_dataloader())
    assert len(first) == 2
    for built, reused in zip(first, again, strict=True):
        assert reused.items is built.items and reused.seen is built.seen and reused.users is built.users
    other = dm.val_set.__getitems__([2, 0])  # another grouping of users: built anew, right rows
    assert other.users.tolist() == [2, 0] and other.items[:, -1].tolist() == [2, 4]


def test_eval_cache_stops_growing_at_its_byte_budget() -> None:
    split = LeaveOneOut(data_from([[1, 2, 3, 4, 5], [6, 7, 8], [1, 6, 2, 7]]))
    dataset = SequenceDataModule(split, max_len=3).val_set
    dataset._room = 0  # no room: every batch is built fresh and equal
    built, again = dataset.__getitems__([0, 1]), dataset.__getitems__([0, 1])
    assert built.items is not again.items and torch.equal(built.items, again.items)
    assert torch.equal(built.seen, again.seen)


def test_prefix_windows_end_at_every_training_target_once() -> None:
    split = LeaveOneOut(data_from([[1, 2, 3, 4, 5, 6], [6, 7, 8], [1, 6, 2, 7]]))
    positions, users = split.prefix_window_positions(2)
    # training parts: [1, 2, 3, 4], [6], [1, 6]: targets 2, 3, 4 of user 0 and 6 of user 2
    assert split.items_at(positions).tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [0, 1, 6]]
    assert users.tolist() == [0, 0, 0, 2]
    module = SequenceDataModule(split, max_len=2, train_windows="prefixes")  # leakage guard passes
    assert len(module.train_set) == 4


@pytest.mark.parametrize(("max_len", "stride"), [(3, 1), (3, 2), (4, 3), (5, 5), (7, 2)])
def test_sliding_windows_train_every_target_once_with_more_context(max_len: int, stride: int) -> None:
    rng = np.random.default_rng(1)
    sequences = [list(rng.integers(1, 30, size=int(rng.integers(3, 25)))) for _ in range(40)]
    split = LeaveOneOut(data_from(sequences))
    positions, users, new = split.sliding_window_positions(max_len, stride)
    trained: list[int] = []  # positions (into data.items) trained as targets, over all windows
    for row, user, n in zip(positions, users, new, strict=True):
        targets = row[1:][row[:-1] >= 0]  # a target has an item before it
        for pos in targets[-n:]:
            trained.append(int(pos))
            before = int((row[: int(np.argwhere(row == pos)[0][0])] >= 0).sum())  # its context here
            available = int(pos - split.data.offsets[user])  # its whole history
            assert before == available or before >= max_len - stride + 1
    starts, ends = split.data.offsets[:-1], split.data.offsets[1:]
    expected = np.concatenate([np.arange(s + 1, e - 2) for s, e in zip(starts, ends, strict=True)])
    assert sorted(trained) == sorted(expected.tolist())  # every training target exactly once
    if stride == max_len:  # no overlap: the tiles of train_windows=all
        tiles, tile_users = split.train_window_positions(max_len)
        assert (tiles == positions).all() and (tile_users == users).all()


def test_sliding_windows_reach_the_loss_as_new_targets() -> None:
    split = LeaveOneOut(data_from([list(range(1, 11))]))  # training part 1..8: targets 2..8
    module = SequenceDataModule(split, max_len=4, window_stride=2)
    windows = module.train_set.windows.tolist()
    assert windows == [[4, 5, 6, 7, 8], [2, 3, 4, 5, 6], [0, 1, 2, 3, 4]]
    assert module.train_set.new_targets.tolist() == [2, 2, 4]  # 7 8 | 5 6 | 2 3 4
    batch = module.train_set.__getitems__([2, 0])
    assert batch.new_targets.tolist() == [4, 2]
    assert SequenceDataModule(split, max_len=4, window_stride=4).train_set.new_targets is None
    for stride, windows_mode in ((0, "all"), (5, "all"), (2, "prefixes"), (2, "recent")):
        with pytest.raises(ConfigError, match="window_stride"):
            SequenceDataModule(split, max_len=4, train_windows=windows_mode, window_stride=stride)
