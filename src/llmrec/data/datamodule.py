"""The Lightning data module: training windows, validation and test rows, all as :class:`SeqBatch`.

Datasets fetch a whole batch at once (``__getitems__``): a batch is one tensor gather, with no per-sample
Python in the hot loop. Gathers use ``index_select``: on a loaded CPU,
advanced indexing (``t[idx]``) of a few hundred rows wakes the whole thread pool and took ~15 ms per
batch where ``index_select`` takes well under 1 ms.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler

from llmrec.checks import positive_ints
from llmrec.data.batch import SeqBatch, trim_left_padding
from llmrec.data.guards import check_train_positions
from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError

# all: windows tiling each training part; recent: the window at its end; prefixes: one window per target;
# last_prefixes: one per target among each user's last ``last_targets`` (samples=last_targets)
TRAIN_WINDOWS = ("all", "recent", "prefixes", "last_prefixes")


def _whole_batch(batch: SeqBatch) -> SeqBatch:
    return batch


class LengthGroupedSampler(Sampler[int]):
    """Random order in which each run of ``batch_size`` indices has similar lengths: shuffle, sort
    within chunks of ``group`` batches by length, then shuffle the batches. With trimmed padding, a
    batch costs its longest row, so this cuts training time several-fold on long-tailed lengths."""

    def __init__(self, lengths: Tensor, batch_size: int, group: int = 50) -> None:
        self.lengths = lengths
        self.batch_size = batch_size
        self.chunk = batch_size * group

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(len(self.lengths))
        batches: list[Tensor] = []
        for chunk in order.split(self.chunk):
            by_length = chunk[torch.argsort(self.lengths[chunk], descending=True, stable=True)]
            batches.extend(by_length.split(self.batch_size))
        shuffled = torch.randperm(len(batches)).tolist()
        return iter(torch.cat([batches[i] for i in shuffled]).tolist())


class WindowDataset(Dataset):
    """Training windows; with ``new_targets`` (overlapping windows), the number of trailing targets each
    window trains on; with ``users``, whose window each is (a model with user tokens reads them)."""

    def __init__(
        self, windows: np.ndarray, new_targets: np.ndarray | None = None, users: np.ndarray | None = None
    ) -> None:
        self.windows = torch.from_numpy(windows)
        self.lengths = (self.windows != 0).sum(dim=1)
        self.new_targets = None if new_targets is None else torch.from_numpy(new_targets)
        self.users = None if users is None else torch.from_numpy(users)

    def __len__(self) -> int:
        return self.windows.shape[0]

    def __getitems__(self, indices: list[int]) -> SeqBatch:
        index = torch.as_tensor(indices)
        items = trim_left_padding(self.windows.index_select(0, index))
        users = None if self.users is None else self.users.index_select(0, index)
        if self.new_targets is None:
            return SeqBatch(items=items, users=users)
        return SeqBatch(items=items, users=users, new_targets=self.new_targets.index_select(0, index))


class EvalDataset(Dataset):
    """Rows ending in the target, plus each user's history (padded per batch) for masking; ``users`` the
    user of each row (default: row i is user i), ``candidates`` each row's sampled negatives (sampled
    ranking) or None (full ranking).

    Validation asks for the same batches every epoch, so built batches are kept and handed out again
    (building one gathers its users' whole histories: ~15% of an ML-1M-sized evaluation pass). The cache
    holds at most twice the dataset's own tensors in bytes; past that, batches are built every time.

    :meth:`to` keeps the tensors on an accelerator: batches are then gathered there, their shapes worked
    out from host copies of the row and history lengths, so building one never waits for the device and
    a cached batch costs no transfer at all.
    """

    def __init__(
        self,
        rows: np.ndarray,
        history: np.ndarray,
        offsets: np.ndarray,
        mask_history: bool,
        users: np.ndarray | None = None,
        candidates: np.ndarray | None = None,
    ) -> None:
        self.rows = torch.from_numpy(rows)
        self.users = torch.from_numpy(users if users is not None else np.arange(len(rows)))
        self.candidates = None if candidates is None else torch.from_numpy(candidates)
        self.history = torch.from_numpy(history)
        self.offsets = torch.from_numpy(offsets)
        self.lengths = self.offsets[1:] - self.offsets[:-1]  # history lengths; rows grow with them
        self.mask_history = mask_history
        # each row's first non-padding column (its width if empty): trim_left_padding's cut, on the host
        filled = self.rows != 0
        self._first_filled = torch.where(filled.any(dim=1), filled.int().argmax(dim=1), self.rows.shape[1])
        self._starts, self._lengths = self.offsets[:-1], self.lengths  # where the rows' data live
        self.device = torch.device("cpu")
        self._built: dict[tuple[int, ...], SeqBatch] = {}
        self._room = 2 * (self.rows.nbytes + self.history.nbytes + self.offsets.nbytes)

    def __len__(self) -> int:
        return self.rows.shape[0]

    def to(self, device: torch.device | str) -> EvalDataset:
        """Keep rows, histories, users and candidates on ``device`` (built batches are dropped)."""
        device = torch.device(device)
        if device != self.device:
            self.rows, self.users = self.rows.to(device), self.users.to(device)
            self.history = self.history.to(device)
            self.candidates = None if self.candidates is None else self.candidates.to(device)
            self._starts, self._lengths = self.offsets[:-1].to(device), self.lengths.to(device)
            self.device, self._built = device, {}
        return self

    def __getitems__(self, indices: list[int]) -> SeqBatch:
        key = tuple(indices)
        batch = self._built.get(key)
        if batch is None:
            batch = self._build(indices)
            size = sum(t.nbytes for t in batch if t is not None)
            if size <= self._room:
                self._built[key] = batch
                self._room -= size
        return batch

    def _build(self, indices: list[int]) -> SeqBatch:
        on_host = torch.as_tensor(indices)
        index = on_host.to(self.device)
        width = self.rows.shape[1]  # trim_left_padding's cut, from the host copy: keep at least 2 columns
        first = min(int(self._first_filled.index_select(0, on_host).min()), width - 2)
        rows = self.rows.index_select(0, index)[:, first:]
        users = self.users.index_select(0, index)
        if self.candidates is not None:  # sampled ranking: candidates never hold the history
            return SeqBatch(items=rows, users=users, candidates=self.candidates.index_select(0, index))
        if not self.mask_history:
            return SeqBatch(items=rows, users=users)
        longest = max(int(self.lengths.index_select(0, on_host).max()), 1)
        column = torch.arange(longest, device=self.device)
        lengths = self._lengths.index_select(0, index)
        positions = self._starts.index_select(0, index)[:, None] + column[None, :]  # (B, H)
        valid = column[None, :] < lengths[:, None]
        flat = positions.clamp(max=len(self.history) - 1).view(-1)
        seen = torch.where(valid, self.history.index_select(0, flat).view(positions.shape), 0)
        return SeqBatch(items=rows, seen=seen, users=users)


def _check_stride(stride: int | None, train_windows: str, max_len: int) -> None:
    if stride is None:
        return
    if isinstance(stride, bool) or not isinstance(stride, int) or not 0 < stride <= max_len:
        raise ConfigError(
            f"datamodule.window_stride must be an integer in [1, max_len={max_len}] or null, got {stride}"
        )
    if train_windows != "all":
        raise ConfigError(
            f"datamodule.window_stride overlaps the windows of train_windows=all; with "
            f"train_windows={train_windows} set datamodule.window_stride=null"
        )


def _check_last_targets(last_targets: int | None, train_windows: str) -> None:
    if (train_windows == "last_prefixes") != (last_targets is not None):
        raise ConfigError(
            f"datamodule.last_targets={last_targets} with train_windows={train_windows}: each user's last n "
            "targets are a schema of their own, choose it with samples=last_targets (samples.n=<n>)"
        )
    if last_targets is not None:
        positive_ints("datamodule.", last_targets=last_targets)


class SequenceDataModule(pl.LightningDataModule):
    def __init__(
        self,
        split: LeaveOneOut,
        max_len: int,
        batch_size: int = 256,
        eval_batch_size: int = 512,
        mask_history: bool = True,
        num_workers: int = 0,
        group_by_length: bool = True,
        eval_by_length: bool = False,
        train_windows: str = "all",
        window_stride: int | None = None,
        candidates: np.ndarray | None = None,
        last_targets: int | None = None,
        eval_on_device: bool = True,
    ) -> None:
        super().__init__()
        if train_windows not in TRAIN_WINDOWS:
            raise ConfigError(
                f"datamodule.train_windows must be one of {', '.join(TRAIN_WINDOWS)}, got {train_windows!r}"
            )
        _check_stride(window_stride, train_windows, max_len)
        _check_last_targets(last_targets, train_windows)
        positive_ints("", max_len=max_len, batch_size=batch_size, eval_batch_size=eval_batch_size)
        self.split = split
        self.max_len = max_len
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.mask_history = mask_history
        self.num_workers = num_workers
        self.group_by_length = group_by_length
        self.eval_by_length = eval_by_length
        self.eval_on_device = eval_on_device
        new_targets = None
        if train_windows in ("prefixes", "last_prefixes"):
            positions, users = split.prefix_window_positions(max_len, last_targets)
        elif window_stride is not None and window_stride < max_len:
            positions, users, new_targets = split.sliding_window_positions(max_len, window_stride)
        else:
            positions, users = split.train_window_positions(max_len, recent_only=train_windows == "recent")
        # on the windows actually used: inside each user's training part, none of a held-out user
        check_train_positions(split.data.offsets, positions, users, split.train_bounds()[1])
        windows = split.items_at(positions)
        self.train_set = WindowDataset(windows, new_targets, np.asarray(users, dtype=np.int64))
        self.val_set = self._eval_set(split, "val", candidates)
        self.test_set = self._eval_set(split, "test", candidates)

    def _eval_set(self, split: LeaveOneOut, stage: str, candidates: np.ndarray | None) -> EvalDataset:
        users = split.eval_users(stage)
        negatives = None if candidates is None else candidates[users]
        rows = split.eval_rows(stage, self.max_len)
        return EvalDataset(*rows, mask_history=self.mask_history, users=users, candidates=negatives)

    def _loader(self, dataset: Dataset, batch_size: int, sampler: Sampler | None = None) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            collate_fn=_whole_batch,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def _world_size(self) -> int:
        trainer = getattr(self, "trainer", None)
        return int(trainer.world_size) if trainer is not None else 1

    def train_dataloader(self) -> DataLoader:
        # Under DDP a plain RandomSampler, which Lightning swaps for a DistributedSampler (each rank a
        # disjoint shard, reshuffled per epoch); Lightning would wrap the length-grouped sampler in a
        # shuffling DistributedSamplerWrapper, which splits the data but undoes the length grouping.
        grouped = self.group_by_length and self._world_size() == 1
        sampler = LengthGroupedSampler(self.train_set.lengths, self.batch_size) if grouped else None
        return self._loader(self.train_set, self.batch_size, sampler or RandomSampler(self.train_set))

    def _eval_device(self) -> torch.device:
        """Where evaluation batches are built: the trainer's accelerator (eval_on_device, data loaded in
        this process: worker processes cannot hand out accelerator tensors), else the host."""
        trainer = getattr(self, "trainer", None)
        if trainer is None or not self.eval_on_device or self.num_workers > 0:
            return torch.device("cpu")
        return trainer.strategy.root_device

    def _eval_loader(self, dataset: EvalDataset) -> DataLoader:
        dataset.to(self._eval_device())
        # eval_by_length: longest histories first, so each batch holds rows (trimmed to the longest) and
        # histories (padded to the longest) of similar lengths: the forward pass costs the longest row of
        # its batch (~2.4x faster on Beauty-shaped data), history masking the longest history. Metrics
        # are per user, so the order does not change them beyond the model's float rounding at another
        # padding width. Under DDP the plain order, which Lightning shards with a DistributedSampler.
        if not self.eval_by_length or self._world_size() > 1:
            return self._loader(dataset, self.eval_batch_size)
        order = torch.argsort(dataset.lengths, descending=True, stable=True).tolist()
        return self._loader(dataset, self.eval_batch_size, sampler=order)  # type: ignore[arg-type]

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader(self.test_set)
