"""``eval.export_topk=K``: each test user's top-K items and scores as a table users can read.

One row per (user, rank): ``user`` and ``item`` are the dataset's original ids, ``user_index`` and
``item_index`` the internal ones (items 1..N, 0 = padding), ``rank`` counts from 1, ``score`` is the
model's score after history masking: the same masked matrix the metrics rank, so HR/NDCG computed from the
file against the test targets give the numbers in ``results.json`` wherever scores do not tie. Tied items
(popularity counts; LLMSeqPrompt gives every item outside its generated top-k one low score) stand in the
list in no particular order, while the metrics rank a target behind all items tied with it. A list
shorter than K (fewer rankable items) ends early.

Parquet when pyarrow is importable (typed, compact), else CSV; ``results.json`` records which.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from llmrec.checks import positive_int
from llmrec.data.interactions import SequenceData
from llmrec.io import write_bytes_atomic

COLUMNS = ("user", "user_index", "rank", "item", "item_index", "score")


def check_export_k(value: Any) -> int | None:
    """``eval.export_topk``: null (off) or a positive integer."""
    return positive_int(value, "eval.export_topk", allow_none=True)


def topk_columns(users: Tensor, items: Tensor, scores: Tensor, data: SequenceData) -> dict[str, np.ndarray]:
    """The table's columns from (U,) user indices and (U, K) item indices and scores (item -1 = none)."""
    item_index, score = items.numpy(), scores.float().numpy()
    rows, rank = np.nonzero(item_index >= 0)
    user_index = users.numpy()[rows]
    kept = item_index[rows, rank]
    return {
        "user": np.asarray(data.user_ids, dtype=object)[user_index],
        "user_index": user_index.astype(np.int64),
        "rank": (rank + 1).astype(np.int64),
        "item": np.asarray(data.item_ids, dtype=object)[kept - 1],
        "item_index": kept.astype(np.int64),
        "score": score[rows, rank].astype(np.float64),
    }


def _parquet_bytes(columns: dict[str, np.ndarray]) -> bytes | None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    table = pa.table({name: pa.array(values.tolist()) for name, values in columns.items()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _csv_bytes(columns: dict[str, np.ndarray]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(zip(*(columns[name].tolist() for name in COLUMNS), strict=True))
    return text.getvalue().encode("utf-8")


def write_topk(
    folder: Path, users: Tensor, items: Tensor, scores: Tensor, data: SequenceData, stem: str = "topk_test"
) -> dict[str, Any]:
    """Write ``<folder>/<stem>.parquet`` (or ``.csv`` without pyarrow) atomically; returns what
    ``results.json`` records about it (file name, format, K, rows)."""
    columns = topk_columns(users, items, scores, data)
    payload = _parquet_bytes(columns)
    kind = "parquet" if payload is not None else "csv"
    path = folder / f"{stem}.{kind}"
    write_bytes_atomic(path, payload if payload is not None else _csv_bytes(columns))
    return {"file": path.name, "format": kind, "k": int(items.shape[1]), "rows": len(columns["rank"])}
