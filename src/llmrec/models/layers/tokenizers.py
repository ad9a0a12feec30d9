"""Tokenizers for prompt models behind one small interface: ``encode(text) -> ids`` (no special tokens),
``decode(ids) -> text`` (special tokens dropped), ``pad_id``, ``eos_id``, ``bos_id`` and ``len()``.

:class:`WordTokenizer` is built from the catalog's texts (whitespace words), for backbones built with
random weights from a config; :class:`HFTokenizer` adapts a pretrained backbone's own tokenizer.
"""

from __future__ import annotations

from typing import Any

from llmrec.errors import ConfigError

SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")


class WordTokenizer:
    """Whitespace words of the given texts, plus ``<pad> <s> </s> <unk>`` (ids 0..3)."""

    def __init__(self, texts: list[str]) -> None:
        words = sorted({word for text in texts for word in text.split()})
        self.vocab = list(SPECIALS) + words
        self.ids = {word: i for i, word in enumerate(self.vocab)}
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = 0, 1, 2, 3

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        return [self.ids.get(word, self.unk_id) for word in text.split()]

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.vocab[i] for i in ids if i >= len(SPECIALS) and i < len(self.vocab))


class HFTokenizer:
    """A Hugging Face tokenizer; models without a pad token pad with their end-of-sequence token."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
        if eos is None:
            raise ConfigError(
                f"{type(tokenizer).__name__} has no end-of-sequence token; a prompt model needs one"
            )
        self.eos_id = int(eos)
        self.pad_id = int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else self.eos_id
        self.bos_id = tokenizer.bos_token_id

    def __len__(self) -> int:
        return len(self.tokenizer)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True)).strip()
