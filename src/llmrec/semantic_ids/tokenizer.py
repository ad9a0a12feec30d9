"""The configurable item tokenizer: item texts -> embeddings (cached) -> semantic IDs (cached).

``conf/semantic_ids/{rqvae,rqkmeans}.yaml`` build it; a generative model calls it on the dataset's item
texts. Items without text (blank or the dataset's ``empty_text`` marker) are embedded as ``"item <id>"``
(as Lite-LLM4Rec does) instead of one shared vector that would put them all in one collision group; they
are counted in the stats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec.data.item_text import fill_empty_texts
from llmrec.embeddings.cache import ItemEmbeddings, apply_template, manifest_for
from llmrec.semantic_ids.cache import artefact_dir, read_artefact, read_stats, write_artefact
from llmrec.semantic_ids.codes import SemanticIds
from llmrec.semantic_ids.learn import check_settings, learn_semantic_ids
from llmrec.semantic_ids.rqvae import RqVaeSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tokenized:
    ids: SemanticIds
    stats: dict[str, Any]
    entry: Path | None  # the artefact folder, None without a cache
    cached: bool


class SemanticIdTokenizer:
    """Learns unique semantic IDs of a catalog (TIGER's RQ-VAE or RQ-KMeans) from its item texts."""

    def __init__(
        self,
        embeddings: ItemEmbeddings,
        method: str = "rqvae",
        levels: int = 3,
        codebook_size: int = 256,
        seed: int = 0,
        cache_dir: str | None = None,
        rqvae: dict[str, Any] | None = None,
        dedup: bool = True,
        empty_text: str = "[no text]",
    ) -> None:
        check_settings(method, levels, codebook_size, seed)
        self.embeddings = embeddings
        self.method, self.levels, self.codebook_size, self.seed = method, levels, codebook_size, seed
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.rqvae = RqVaeSettings.from_dict(rqvae)
        self.dedup, self.empty_text = dedup, empty_text

    def request(self, texts: list[str]) -> dict[str, Any]:
        """Everything the ids depend on: the embeddings' identity, the settings and the seed."""
        template = self.embeddings.template
        return {
            "embeddings": manifest_for(self.embeddings.encoder, apply_template(texts, template), template),
            "method": self.method,
            "levels": self.levels,
            "codebook_size": self.codebook_size,
            "seed": self.seed,
            "dedup": self.dedup,
            "empty_text": self.empty_text,
            "kmeans_iterations": self.rqvae.kmeans_iterations,
            "rqvae": self.rqvae.as_dict() if self.method == "rqvae" else None,
        }

    def tokenize(self, item_text: list[str]) -> Tokenized:
        texts, empty = fill_empty_texts(list(item_text), self.empty_text)
        request = self.request(texts)
        entry = artefact_dir(self.cache_dir, request) if self.cache_dir else None
        if entry is not None and entry.is_dir():
            ids = read_artefact(entry, request)
            if ids is not None:
                log.info("read the semantic ids of %d items from %s", ids.num_items, entry)
                return Tokenized(ids, read_stats(entry), entry, cached=True)
        points = self.embeddings(texts)  # (N, D)
        ids, stats = learn_semantic_ids(
            points, self.method, self.levels, self.codebook_size, self.seed, self.rqvae, self.dedup
        )
        stats = {**stats, "empty_text_items": empty, "embedding_dim": int(points.shape[1])}
        if entry is not None:
            write_artefact(entry, ids, stats, request)
            log.info("learned the semantic ids of %d items into %s", ids.num_items, entry)
        return Tokenized(ids, stats, entry, cached=False)

    def __call__(self, item_text: list[str]) -> SemanticIds:
        return self.tokenize(item_text).ids
