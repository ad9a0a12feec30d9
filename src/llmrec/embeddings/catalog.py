"""Map generated item titles back to catalog items (LLMSeqPrompt, Harte et al., arXiv 2402.01339).

Each generated title is matched exactly (after normalising case and whitespace); otherwise it is a
hallucination and maps to the nearest not-yet-chosen item by text embedding (through a
:mod:`llmrec.embeddings.index` index). Duplicates are skipped, and the list is filled up to ``k`` with the
nearest neighbours of its first item, skipping each row's ``exclude`` items (the prompt's items, as the
official fill does: an evaluation that masks the history would drop them, leaving fewer than ``k``).
With ``sampled=True`` the titles are independent samples ordered as the official notebook orders them
(``main/openai/prompt_model/session_finetuned.ipynb``): each catalog title once, in the order first sampled,
then one replacement for every repeated sample and every sample of a hallucinated title, the title's nearest
item that was not sampled, not already placed and not excluded.
Counts of exact matches, hallucinations and duplicates are kept for reporting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from llmrec.embeddings.index import FaissIndex, NearestNeighbors
from llmrec.errors import DataError


def normalise(title: str) -> str:
    return " ".join(title.lower().split())


@dataclass
class MappingStats:
    generated: int = 0
    exact: int = 0
    hallucinated: int = 0
    duplicates: int = 0

    def shares(self) -> dict[str, float]:
        total = max(self.generated, 1)
        return {
            "exact_match_share": self.exact / total,
            "hallucination_share": self.hallucinated / total,
            "duplicate_share": self.duplicates / total,
        }


class CatalogMapper:
    """``mapper.map(rows, k)``: rows of generated titles (best first) -> (B, k) item ids (1..N)."""

    def __init__(
        self,
        titles: list[str],
        item_vectors: np.ndarray,
        encode: Callable[[list[str]], np.ndarray],
        index: NearestNeighbors | None = None,
    ) -> None:
        if len(titles) != len(item_vectors):
            raise DataError(f"{len(titles)} titles but {len(item_vectors)} item embeddings")
        self.exact: dict[str, int] = {}
        for item, title in enumerate(titles, start=1):
            self.exact.setdefault(normalise(title), item)  # first item wins for repeated titles
        self.vectors = np.asarray(item_vectors, dtype=np.float32)  # (N, D)
        self.encode = encode
        self.index = index if index is not None else FaissIndex("ip")
        self.index.add(self.vectors)
        self.stats = MappingStats()

    def reset_stats(self) -> None:
        self.stats = MappingStats()

    @property
    def num_items(self) -> int:
        return len(self.vectors)

    def _neighbours(self, queries: np.ndarray, k: int) -> np.ndarray:
        if len(queries) == 0:
            return np.zeros((0, 0), dtype=np.int64)
        return self.index.search(queries, min(k, self.num_items))[1] + 1  # (Q, k) item ids

    def _map_row(self, row: list[str], misses: dict[str, np.ndarray], k: int) -> list[int]:
        chosen: list[int] = []
        for title in row:
            self.stats.generated += 1
            item = self.exact.get(normalise(title))
            if item is not None:
                self.stats.exact += int(item not in chosen)
                self.stats.duplicates += int(item in chosen)
                if item not in chosen:
                    chosen.append(item)
                continue
            self.stats.hallucinated += 1
            nearest = next((int(i) for i in misses[normalise(title)] if int(i) not in chosen), None)
            if nearest is not None:
                chosen.append(nearest)
        return chosen[:k]

    def _map_samples(self, row: list[str], near: dict[str, np.ndarray], k: int, skip: set[int]) -> list[int]:
        counts = Counter(normalise(title) for title in row)  # insertion order: the order first sampled
        sampled = {self.exact[title] for title in counts if title in self.exact}
        chosen: list[int] = []
        replacements: list[int] = []
        for title, count in counts.items():
            item = self.exact.get(title)
            self.stats.generated += count
            if item is None:
                self.stats.hallucinated += count
                needed = count  # every sample of a hallucinated title gets a nearest item
            else:
                self.stats.exact += 1
                self.stats.duplicates += count - 1
                chosen.append(item)
                needed = count - 1  # every repeat of a catalog title does
            if needed:
                taken = sampled | skip | set(replacements)
                replacements += [int(i) for i in near[title] if int(i) not in taken][:needed]
        return (chosen + replacements)[:k]

    def _nearest_to_titles(self, rows: list[list[str]], depth: int, sampled: bool) -> dict[str, np.ndarray]:
        """Each hallucinated title's nearest items (by its text embedding) and, for samples, each repeated
        catalog title's (by its item's embedding), ``depth`` of them, keyed by the normalised title."""
        unknown = sorted({normalise(t) for row in rows for t in row if normalise(t) not in self.exact})
        found = self._neighbours(self.encode(unknown), depth) if unknown else np.zeros((0, 0), np.int64)
        near = dict(zip(unknown, found, strict=True))
        if sampled:
            repeats = {t for row in rows for t, n in Counter(map(normalise, row)).items() if n > 1}
            repeated = sorted(t for t in repeats if t in self.exact)
            items = np.array([self.exact[t] - 1 for t in repeated], dtype=np.int64)
            near.update(zip(repeated, self._neighbours(self.vectors[items], depth), strict=True))
        return near

    def map(
        self, rows: list[list[str]], k: int, exclude: list[set[int]] | None = None, sampled: bool = False
    ) -> np.ndarray:
        """(B, min(k, N)) item ids; column 0 is the best. ``exclude[b]``: items row ``b``'s fill skips
        (generated items are kept even when excluded); when too few items are left, excluded ones fill.
        ``sampled``: each row's titles are samples, in the official order (module docstring)."""
        k = min(k, self.num_items)
        skip = exclude if exclude is not None else [set() for _ in rows]
        longest = max((len(row) for row in rows), default=0)
        widest = max((len(s) for s in skip), default=0)
        # Deep enough that a replacement is found past every sampled, placed and excluded item.
        depth = k + longest + (longest + widest) * int(sampled)
        near = self._nearest_to_titles(rows, depth, sampled)
        lists = (
            [self._map_samples(row, near, k, s) for row, s in zip(rows, skip, strict=True)]
            if sampled
            else [self._map_row(row, near, k) for row in rows]
        )
        anchors = (
            np.stack([self.vectors[(lst[0] if lst else 1) - 1] for lst in lists])
            if lists
            else self.vectors[:0]
        )
        fill = self._neighbours(anchors, k + depth + widest)  # (B, ·) neighbours of each list's first item
        out = np.zeros((len(rows), k), dtype=np.int64)
        for b, chosen in enumerate(lists):
            extra = [int(i) for i in fill[b] if int(i) not in chosen and int(i) not in skip[b]]
            spare = [int(i) for i in fill[b] if int(i) not in chosen and int(i) in skip[b]]
            out[b] = (chosen + extra + spare)[:k]
        return out
