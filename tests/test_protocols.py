"""Evaluation protocols on tiny hand-made datasets: which users and positions are where, sampled
candidates, sampled metrics against hand-computed ranks (ties), unmasked ranking of history items."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec.data.batch import SeqBatch
from llmrec.data.candidates import check_candidates, read_sample_file, sample_negatives, stored_negatives
from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.guards import check_train_positions
from llmrec.data.holdout import UserHoldout
from llmrec.data.interactions import SequenceData, flatten
from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError, DataError
from llmrec.evaluation.evaluator import RankingEvaluator
from llmrec.evaluation.metrics import sampled_ranks

# Ten users; user u's sequence starts at item u+1. Last interaction times are chosen out of user order:
# from earliest to latest the users are 3, 0, 7, 1, 9, 2, 8, 4, 6, 5.
SEQUENCES = [[(u + j) % 12 + 1 for j in range(3 + u % 4)] for u in range(10)]
LAST_TIME = {3: 10, 0: 20, 7: 30, 1: 40, 9: 50, 2: 60, 8: 70, 4: 80, 6: 90, 5: 100}


def hand_data(with_times: bool = True) -> SequenceData:
    items, offsets = flatten(SEQUENCES)
    # each user's times run up to its last time, one second apart
    times = np.concatenate([LAST_TIME[u] - np.arange(len(s))[::-1] for u, s in enumerate(SEQUENCES)])
    users, item_ids = [f"u{u}" for u in range(10)], [str(i) for i in range(1, 13)]
    return SequenceData(items, offsets, users, item_ids, times=times.astype(float) if with_times else None)


# --- leave-one-out -------------------------------------------------------------------------------------
def test_loo_evaluates_every_user_on_its_last_two_items() -> None:
    data = hand_data()
    split = LeaveOneOut(data)
    assert split.eval_users("val").tolist() == split.eval_users("test").tolist() == list(range(10))
    rows, _, _ = split.eval_rows("test", max_len=3)
    assert rows[:, -1].tolist() == [s[-1] for s in SEQUENCES]
    starts, train_ends = split.train_bounds()
    assert (train_ends - starts).tolist() == [len(s) - 2 for s in SEQUENCES]
    assert split.num_train_users == 10


def test_a_validation_sample_narrows_validation_only() -> None:
    split = LeaveOneOut(hand_data(), val_sample=np.array([2, 7]))
    assert split.eval_users("val").tolist() == [2, 7] and split.eval_users("test").tolist() == list(range(10))
    rows, _, offsets = split.eval_rows("val", max_len=3)
    assert rows[:, -1].tolist() == [SEQUENCES[2][-2], SEQUENCES[7][-2]] and len(offsets) == 3
    holdout = UserHoldout(hand_data(), test_fraction=0.2, val_fraction=0.3, order="time")
    holdout.val_sample = np.array([4])  # one of the validation group [2, 4, 8]
    assert holdout.eval_users("val").tolist() == [4] and holdout.eval_users("test").tolist() == [5, 6]


# --- user holdout --------------------------------------------------------------------------------------
def test_user_holdout_by_time_holds_out_the_latest_users() -> None:
    split = UserHoldout(hand_data(), test_fraction=0.2, val_fraction=0.3, order="time")
    assert split.groups["test"].tolist() == [5, 6]  # last interactions at 100 and 90
    assert split.groups["val"].tolist() == [2, 4, 8]  # 60, 80, 70
    assert split.groups["train"].tolist() == [0, 1, 3, 7, 9]
    assert split.eval_users("test").tolist() == [5, 6] and split.num_train_users == 5


def test_held_out_rows_are_last_item_and_prompt_truncated() -> None:
    split = UserHoldout(hand_data(), test_fraction=0.2, val_fraction=0.3, order="time")
    rows, history, offsets = split.eval_rows("test", max_len=2)
    # user 5: items 6 7 8 9 (4 items); user 6: 7 8 9 10 11 (5 items, 6 % 4 = 2 -> 3 + 2)
    assert SEQUENCES[5] == [6, 7, 8, 9] and SEQUENCES[6] == [7, 8, 9, 10, 11]
    assert rows.tolist() == [[7, 8, 9], [9, 10, 11]]  # prompt = the last max_len items before the target
    assert history.tolist() == [6, 7, 8, 7, 8, 9, 10] and offsets.tolist() == [0, 3, 7]


@pytest.mark.parametrize("max_len", [1, 2, 5])
def test_training_uses_whole_sequences_of_training_users_only(max_len: int) -> None:
    data = hand_data()
    split = UserHoldout(data, test_fraction=0.2, val_fraction=0.3, order="time")
    positions, users = split.train_window_positions(max_len)
    check_train_positions(data.offsets, positions, users, split.train_bounds()[1])
    assert set(users.tolist()) == {0, 1, 3, 7, 9}
    # every position of a training user but its first is a target exactly once (tiled windows)
    targets = np.sort(positions[:, 1:][positions[:, :-1] >= 0])  # a target has an input before it
    expected = np.concatenate([np.arange(data.offsets[u] + 1, data.offsets[u + 1]) for u in (0, 1, 3, 7, 9)])
    assert targets.tolist() == expected.tolist()
    held_out = np.concatenate([np.arange(data.offsets[u], data.offsets[u + 1]) for u in (2, 4, 5, 6, 8)])
    assert not np.isin(positions, held_out).any()
    counts = split.train_item_counts()
    assert counts.sum() == sum(len(SEQUENCES[u]) for u in (0, 1, 3, 7, 9))


class LeakyHoldout(UserHoldout):
    """A broken holdout whose training part includes every user."""

    def train_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.data.offsets[:-1], self.data.offsets[1:]


def test_the_leakage_guard_refuses_a_held_out_user_in_training() -> None:
    split = LeakyHoldout(hand_data(), test_fraction=0.2, val_fraction=0.3, order="time")
    positions, users = split.train_window_positions(3)
    with pytest.raises(DataError, match="held-out user"):
        check_train_positions(split.data.offsets, positions, users, UserHoldout.train_bounds(split)[1])


def test_user_holdout_datamodule_reports_held_out_users() -> None:
    split = UserHoldout(hand_data(), test_fraction=0.2, val_fraction=0.3, order="time")
    module = SequenceDataModule(split, max_len=3, eval_by_length=False)
    batch = next(iter(module.test_dataloader()))
    assert batch.users.tolist() == [5, 6] and batch.items[:, -1].tolist() == [9, 11]
    assert set(module.train_set.windows[module.train_set.windows > 0].tolist()) <= set(range(1, 13))


def test_random_order_is_seeded() -> None:
    first = UserHoldout(hand_data(False), test_fraction=0.2, val_fraction=0.2, order="random", seed=3)
    again = UserHoldout(hand_data(False), test_fraction=0.2, val_fraction=0.2, order="random", seed=3)
    other = UserHoldout(hand_data(False), test_fraction=0.2, val_fraction=0.2, order="random", seed=4)
    assert first.groups["test"].tolist() == again.groups["test"].tolist()
    groups = [tuple(s.groups[g].tolist()) for s in (first, other) for g in ("val", "test")]
    assert groups[:2] != groups[2:]
    assert sorted(np.concatenate(list(first.groups.values())).tolist()) == list(range(10))


@pytest.mark.bad_input
def test_time_order_without_timestamps_is_refused() -> None:
    with pytest.raises(ConfigError, match="order=random"):
        UserHoldout(hand_data(with_times=False))


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("test_fraction", "val_fraction", "message"),
    [(0.0, 0.1, r"test_fraction must be a number in \(0, 1\)"), (1.0, 0.1, "test_fraction"),
     (0.1, -0.2, "val_fraction"), (0.5, 0.5, "0 training"), (0.01, 0.1, "0 test users"), (0.1, "x", "val")],
)  # fmt: skip
def test_bad_fractions_are_refused(test_fraction: float, val_fraction: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        UserHoldout(hand_data(), test_fraction=test_fraction, val_fraction=val_fraction)


# --- sampled candidates --------------------------------------------------------------------------------
def test_negatives_are_never_the_users_items_and_deterministic() -> None:
    data = hand_data()
    counts = LeaveOneOut(data).train_item_counts()
    drawn = sample_negatives(data, 5, "uniform", 0, counts)
    again = sample_negatives(data, 5, "uniform", 0, counts)
    assert drawn.shape == (10, 5) and drawn.dtype == np.int64
    assert np.array_equal(drawn, again)
    assert not np.array_equal(drawn, sample_negatives(data, 5, "uniform", 1, counts))
    for user, sequence in enumerate(SEQUENCES):
        assert not set(drawn[user].tolist()) & set(sequence)  # never the history, never the target
        assert len(set(drawn[user].tolist())) == 5  # without replacement
    assert check_candidates(data, drawn, "drawn") is drawn


def test_popularity_sampling_follows_training_counts() -> None:
    # 4000 users who all had items 1-3; unseen items 4-7 weigh 1:2:3:4, item 8 has no training count
    items, offsets = flatten([[1, 2, 3]] * 4000)
    data = SequenceData(items, offsets, [str(u) for u in range(4000)], [str(i) for i in range(1, 9)])
    counts = np.array([0, 9, 9, 9, 1, 2, 3, 4, 0])
    drawn = sample_negatives(data, 1, "popularity", 0, counts)
    share = np.bincount(drawn[:, 0], minlength=9)[4:] / 4000
    assert share[:4] == pytest.approx([0.1, 0.2, 0.3, 0.4], abs=0.025)
    assert share[4] == 0  # a zero count is never drawn
    uniform = np.bincount(sample_negatives(data, 1, "uniform", 0, counts)[:, 0], minlength=9)[4:] / 4000
    assert uniform == pytest.approx([0.2] * 5, abs=0.025)


def test_stored_negatives_are_written_once_and_read_back(tmp_path: Path) -> None:
    data = hand_data()
    counts = LeaveOneOut(data).train_item_counts()
    first = stored_negatives(data, "fp", (4, "uniform", 7), counts, tmp_path)
    path = tmp_path / "fp-uniform-4-7.npy"
    assert path.is_file() and np.array_equal(np.load(path), first)
    np.save(path, first[:, ::-1])  # what is stored is what every later run reads
    assert np.array_equal(stored_negatives(data, "fp", (4, "uniform", 7), counts, tmp_path), first[:, ::-1])


@pytest.mark.bad_input
def test_more_negatives_than_unseen_items_is_one_error() -> None:
    data = hand_data()  # 12 items; the longest sequences (6 distinct items) leave 6 unseen
    with pytest.raises(ConfigError, match=r"negatives=7 .* of 2 of 10 users: at most 6 negatives"):
        sample_negatives(data, 7, "uniform", 0, LeaveOneOut(data).train_item_counts())


@pytest.mark.bad_input
def test_unknown_sampling_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"protocol\.sampling must be one of"):
        sample_negatives(hand_data(), 2, "zipf", 0, np.ones(13))


def _sample_file(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _valid_lines(data: SequenceData) -> list[str]:
    drawn = sample_negatives(data, 3, "uniform", 0, np.ones(13))
    return [f"u{u} " + " ".join(data.item_ids[i - 1] for i in drawn[u]) for u in range(10)]


def test_sample_file_maps_ids_like_the_dataset(tmp_path: Path) -> None:
    data = hand_data()
    data.item_ids = [f"i{i}" for i in range(1, 13)]  # original ids differ from llmrec's 1..N
    lines = _valid_lines(data)
    read = read_sample_file(_sample_file(tmp_path / "x_sample.txt", lines[::-1]), data)  # any line order
    assert read.shape == (10, 3)
    assert [f"u{u} " + " ".join(f"i{i}" for i in read[u]) for u in range(10)] == lines


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("edit", "message"),
    [(lambda ls: ls[:-1], "1 of 10 users have no line"),
     (lambda ls: [*ls[:-1], "u99 1 2 3"], "user 'u99' is not in the dataset"),
     (lambda ls: [*ls[:-1], "u9 1 2 99"], "item '99' is not in the dataset"),
     (lambda ls: [*ls[:-1], "u9 1 2"], "different numbers of negatives"),
     (lambda ls: ["u0 1 11 12", *ls[1:]], "own items among the negatives")],
)  # fmt: skip
def test_sample_file_not_matching_the_dataset_is_refused(tmp_path: Path, edit, message: str) -> None:
    data = hand_data()
    with pytest.raises(DataError, match=message):
        read_sample_file(_sample_file(tmp_path / "x_sample.txt", edit(_valid_lines(data))), data)


# --- sampled metrics -----------------------------------------------------------------------------------
def test_sampled_ranks_hand_computed_with_ties() -> None:
    scores = torch.tensor(
        [
            [0.0, 0.5, 0.9, 0.5, 0.1, 0.5, 9.0],  # target 1 (0.5); negatives 2 (0.9), 3 (0.5), 4, 5 (0.5)
            [0.0, 0.2, 0.1, 0.3, 0.1, 0.0, 9.0],  # target 3 (0.3) beats its negatives 1, 2, 4, 5
        ]
    )
    targets = torch.tensor([1, 3])
    negatives = torch.tensor([[2, 3, 4, 5], [1, 2, 4, 5]])  # item 6 scores 9.0 but is no candidate
    ranks, ranked = sampled_ranks(scores, targets, negatives)
    assert ranks.tolist() == [3, 0]  # one higher + two ties (pessimistic); nothing above
    assert ranked[1].tolist() == [3, 1, 2, 4, 5]
    evaluator = RankingEvaluator([1, 5], torch.ones(7), num_train_users=2)
    evaluator.update(scores.clone(), SeqBatch(torch.stack([targets, targets], 1), users=torch.tensor([0, 1]),
                                              candidates=negatives))  # fmt: skip
    metrics = evaluator.compute()
    assert metrics["hr_1"] == 0.5 and metrics["hr_5"] == 1.0
    assert metrics["ndcg_5"] == pytest.approx((1 / math.log2(5) + 1.0) / 2)
    assert metrics["mrr_5"] == pytest.approx((1 / 4 + 1.0) / 2)
    assert metrics["coverage_1"] == pytest.approx(2 / 6)  # top-1 lists: item 2 and item 3


def test_unmasked_protocol_ranks_history_items() -> None:
    data = SequenceData(*flatten([[1, 2, 3, 4]]), ["a"], ["1", "2", "3", "4", "5"])
    scores = torch.tensor([[0.0, 0.9, 0.1, 0.2, 0.5, 0.3]])  # history item 1 scores highest; target 4
    ranks = {}
    for mask in (True, False):
        module = SequenceDataModule(LeaveOneOut(data), max_len=3, mask_history=mask)
        batch = next(iter(module.test_dataloader()))
        assert (batch.seen is None) is (not mask)
        evaluator = RankingEvaluator([1], torch.ones(6), 1)
        evaluator.update(scores.clone(), batch)
        ranks[mask] = evaluator.per_user()[1].item()
    assert ranks == {True: 0, False: 1}
