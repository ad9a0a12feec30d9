"""A synthetic dataset with learnable structure, generated from a seed so everything runs offline.

Items belong to latent topics and carry titles drawn from their topic's vocabulary. Users drift between
topics by a Markov chain (mostly stay, else usually move to the "next" topic), and inside a topic they
often take the successor of their previous item, else a popular one (item popularity is long-tailed).
So a sequence model can learn successor and topic transitions, a text model can learn topics from
titles, and popularity alone is weak.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llmrec.data.interactions import Interactions
from llmrec.errors import ConfigError

_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "re",
    "su",
    "ta",
    "ne",
    "vo",
    "zi",
    "pa",
    "ru",
    "shi",
    "den",
    "mor",
    "bel",
    "qua",
]
_GENERIC = ["classic", "mini", "deluxe", "travel", "pro", "daily", "premium", "compact", "set", "kit"]


def _words(rng: np.random.Generator, count: int) -> list[str]:
    return ["".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 4)))) for _ in range(count)]


@dataclass
class SyntheticSource:
    num_users: int = 2000
    num_items: int = 400
    num_topics: int = 20
    mean_length: float = 14.0
    max_length: int = 60
    p_stay: float = 0.8
    p_successor: float = 0.5
    zipf_exponent: float = 1.1
    seed: int = 0
    name: str = "synthetic"

    def input_files(self) -> list[Path]:
        return []

    def _check(self) -> None:
        for key in ("num_users", "num_items", "num_topics", "max_length"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"dataset.source.{key} must be positive, got {getattr(self, key)}")
        if self.num_topics > self.num_items:
            raise ConfigError(
                f"dataset.source.num_topics ({self.num_topics}) exceeds num_items ({self.num_items}); "
                "lower it"
            )
        if self.max_length < 3:
            raise ConfigError(f"dataset.source.max_length must be >= 3, got {self.max_length}")

    def read(self) -> Interactions:
        self._check()
        rng = np.random.default_rng(self.seed)
        topic_of = rng.permutation(np.arange(self.num_items) % self.num_topics)
        popularity = 1.0 / np.arange(1, self.num_items + 1) ** self.zipf_exponent
        popularity = popularity[rng.permutation(self.num_items)]
        members = [np.flatnonzero(topic_of == t) for t in range(self.num_topics)]
        successor = np.empty(self.num_items, dtype=np.int64)
        for items in members:
            successor[items] = np.roll(items, -1)
        sequences = [self._user(rng, members, popularity, successor, topic_of) for _ in range(self.num_users)]
        vocab = [_words(rng, 6) for _ in range(self.num_topics)]
        names = _words(rng, self.num_topics)
        titles = {
            f"i{i}": " ".join(
                [
                    str(rng.choice(_GENERIC)),
                    *rng.choice(vocab[topic_of[i]], size=2, replace=False),
                    f"no. {i}",
                ]
            )
            for i in range(self.num_items)
        }
        categories = {f"i{i}": names[topic_of[i]] for i in range(self.num_items)}
        return Interactions(
            users=[f"u{u}" for u in range(self.num_users)],
            sequences=[[f"i{i}" for i in seq] for seq in sequences],
            item_fields={"title": titles, "category": categories},
        )

    def _user(self, rng, members, popularity, successor, topic_of) -> list[int]:
        length = int(min(self.max_length, 5 + rng.geometric(1.0 / max(self.mean_length - 4, 1.0))))
        item = int(rng.choice(self.num_items, p=popularity / popularity.sum()))
        sequence = [item]
        for _ in range(length - 1):
            topic = int(topic_of[item])
            if rng.random() > self.p_stay:
                step = 1 if rng.random() < 0.7 else int(rng.integers(1, self.num_topics))
                topic = (topic + step) % self.num_topics
            elif rng.random() < self.p_successor:
                item = int(successor[item])
                sequence.append(item)
                continue
            weights = popularity[members[topic]]
            item = int(rng.choice(members[topic], p=weights / weights.sum()))
            sequence.append(item)
        return sequence
