"""Leave-one-out split by time, and the fixed-size windows that models read.

Per user (oldest first): the last item is the test target, the second to last the validation target,
the rest the training part. Validation input = the training part; test input = training part +
validation item, both truncated to the last ``max_len`` items. Training windows are cut from the
training part only, so no validation or test position is ever a training input or target.

A split is two sets of bounds over each user's sequence (``data.items[offsets[u]:offsets[u+1]]``): the
training part ``[start, train_end)`` and, per evaluation stage, which users are evaluated and where their
target sits. Other protocols (:class:`llmrec.data.holdout.UserHoldout`) override those two methods only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmrec.data.interactions import SequenceData


def gather_windows(items: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """(W, width) array whose row w holds ``items[max(starts[w], ends[w]-width) : ends[w]]``, left-padded
    with 0. Vectorised: no Python loop over rows."""
    index = ends[:, None] - width + np.arange(width)[None, :]  # (W, width)
    valid = index >= starts[:, None]
    return np.where(valid, items[np.clip(index, 0, None)], 0)


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices ``[s, s+1, ..., s+n-1]`` for every (s, n), concatenated."""
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + (np.arange(int(lengths.sum())) - first)


def _repeat_users(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(user of each of ``counts[u]`` windows per user, index of the window within its user)."""
    users = np.repeat(np.arange(len(counts)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    return users, np.arange(users.size) - first


def _windows_ending_at(ends: np.ndarray, starts: np.ndarray, max_len: int) -> np.ndarray:
    """(W, max_len + 1) positions of the windows ending (exclusive) at ``ends``; -1 before ``starts``."""
    index = ends[:, None] - (max_len + 1) + np.arange(max_len + 1)[None, :]
    return np.where(index >= starts[:, None], index, -1)


@dataclass
class LeaveOneOut:
    data: SequenceData
    eval_sample: np.ndarray | None = None  # sorted users evaluated (protocol.eval_users); None: every user
    val_sample: np.ndarray | None = None  # sorted users validated (protocol.val_users); None: all evaluated

    @property
    def num_items(self) -> int:
        return self.data.num_items

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.data.offsets[:-1], self.data.offsets[1:]

    def train_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(U,) start and exclusive end of each user's training part (empty for a user not trained on)."""
        starts, ends = self._bounds()
        return starts, ends - 2

    def eval_bounds(self, stage: str) -> tuple[np.ndarray, np.ndarray]:
        """For 'val' or 'test': the evaluated users and the exclusive end of each one's target row (the
        target is ``items[end - 1]``, its input the items before it)."""
        _, ends = self._bounds()
        users = self.validated(stage, np.arange(len(ends)) if self.eval_sample is None else self.eval_sample)
        return users, ends[users] - 1 if stage == "val" else ends[users]

    def validated(self, stage: str, users: np.ndarray) -> np.ndarray:
        """``users``, or at 'val' the validation sample drawn among them (``protocol.val_users``)."""
        return self.val_sample if stage == "val" and self.val_sample is not None else users

    @property
    def num_train_users(self) -> int:
        """Users with at least one training item."""
        starts, train_ends = self.train_bounds()
        return int((train_ends > starts).sum())

    def train_window_positions(
        self, max_len: int, recent_only: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Windows of ``max_len + 1`` positions (indices into ``data.items``, -1 = padding) tiling each
        training part from its end, overlapping by one item, so every training position is a target
        exactly once; with ``recent_only`` only the window at the end (the last ``max_len`` targets, what
        SASRec's reference code trains on). Returns (positions, user of each window)."""
        positions, users, _ = self.sliding_window_positions(max_len, max_len)
        if recent_only:  # each user's first window is the one at the end of the training part
            first = np.r_[True, users[1:] != users[:-1]] if users.size else users.astype(bool)
            return positions[first], users[first]
        return positions, users

    def sliding_window_positions(
        self, max_len: int, stride: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Windows as :meth:`train_window_positions`, but ending every ``stride`` (<= ``max_len``)
        positions from the end of each training part: a window trains on its last ``new[w]`` targets
        only (``stride``; all of its own for the earliest window), so every training position is still a
        target exactly once, and its prediction sees up to ``max_len - stride`` more items before it than
        in non-overlapping tiles. Returns (positions, user of each window, new targets of each window)."""
        starts, train_end = self.train_bounds()
        targets = train_end - starts - 1  # a part of n items has n-1 targets
        extra = -(-np.maximum(targets - max_len, 0) // stride)  # windows before the one at the start
        counts = np.where(targets > 0, 1 + extra, 0)
        users, step = _repeat_users(counts)  # step 0: the window ending at the training part's end
        window_ends = train_end[users] - step * stride
        new = np.where(step == counts[users] - 1, max_len, stride)
        return _windows_ending_at(window_ends, starts[users], max_len), users, new

    def prefix_window_positions(
        self, max_len: int, last_targets: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One window per training target (a position with at least one item before it), ending at that
        target: RecBole's training samples, one prefix each. Same layout as
        :meth:`train_window_positions`; with a last-position loss each target is trained once. With
        ``last_targets=n`` only each user's last n targets (E4SRec's official training samples)."""
        starts, train_end = self.train_bounds()
        counts = np.maximum(train_end - starts - 1, 0)
        kept = counts if last_targets is None else np.minimum(counts, last_targets)
        users, step = _repeat_users(kept)
        first_end = starts[users] + 2 + (counts - kept)[users]  # the window of the first kept target
        return _windows_ending_at(first_end + step, starts[users], max_len), users

    def items_at(self, positions: np.ndarray) -> np.ndarray:
        """Item ids at ``positions`` (-1 = padding, item 0)."""
        return np.where(positions >= 0, self.data.items[np.clip(positions, 0, None)], 0)

    def train_windows(self, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Item ids of :meth:`train_window_positions`: (windows, user of each window)."""
        positions, users = self.train_window_positions(max_len)
        return self.items_at(positions), users

    def eval_rows(self, stage: str, max_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For 'val' or 'test': (users, max_len+1) rows whose last column is the target, and the history
        (items before the target) as (flat items, offsets) for masking; rows follow :meth:`eval_users`."""
        users, target_end = self.eval_bounds(stage)  # exclusive end; target = items[target_end - 1]
        starts = self._bounds()[0][users]
        rows = gather_windows(self.data.items, starts, target_end, max_len + 1)
        history_len = target_end - 1 - starts
        history_offsets = np.zeros(len(starts) + 1, dtype=np.int64)
        np.cumsum(history_len, out=history_offsets[1:])
        history = self.data.items[concat_ranges(starts, history_len)]
        return rows, history, history_offsets

    def eval_users(self, stage: str) -> np.ndarray:
        """The users evaluated at 'val' or 'test', in the order of :meth:`eval_rows`."""
        return self.eval_bounds(stage)[0]

    def train_item_counts(self) -> np.ndarray:
        """(N+1,) interaction count of each item in the training parts (index 0 = padding, always 0)."""
        starts, train_ends = self.train_bounds()
        lengths = np.maximum(train_ends - starts, 0)
        return np.bincount(self.data.items[concat_ranges(starts, lengths)], minlength=self.num_items + 1)
