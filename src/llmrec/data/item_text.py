"""Item text from an item's fields (title, brand, categories, genres, description) by a template.

A template is a Python format string over field names, e.g. ``"{title} | {brand} | {categories}"``.
Rule for missing text: a field without text renders as nothing *and so does the literal text just before
it* (its separator or label) and, for the last field, the text after it; so ``"{title} | {brand}"``
gives ``"Tutu"`` rather than ``"Tutu | "``, and ``"{title} ({genres})"`` gives ``"Heat"``.
Leading separators left over are stripped. An item whose text is empty gets the explicit marker
``empty_text`` (counted in the dataset stats), never dropped.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

from llmrec.errors import ConfigError

_STRIP = " |,;:-/"


def template_fields(template: str) -> list[str]:
    """Field names a template uses, in order; a ConfigError for format specs or positional fields."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name or not name.isidentifier() or spec or conversion:
            raise ConfigError(
                f"dataset.text_template={template!r}: use plain '{{field}}' placeholders "
                f"(e.g. '{{title}} | {{brand}}'), got '{{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}}'"
            )
        names.append(name)
    return names


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``template`` from ``values``; an empty or absent field drops itself and the literal before it."""
    out: list[str] = []
    previous_rendered = True  # a template without fields is its literal text
    for literal, name, _, _ in string.Formatter().parse(template):
        if name is None:  # the text after the last field belongs to it: "({genres})"
            if previous_rendered:
                out.append(literal)
            continue
        text = (values.get(name) or "").strip()
        previous_rendered = bool(text)
        if text:
            out.extend((literal, text))
    return "".join(out).strip(_STRIP).strip()


def render_all(
    fields: Mapping[str, Sequence[str]],
    count: int,
    template: str | None,
    empty_text: str = "",
    separator: str = " | ",
) -> list[str]:
    """Text per item (``count`` items) from column-wise ``fields``; ``template=None`` joins every field."""
    if template is None:
        template = separator.join(f"{{{name}}}" for name in fields)
    names = template_fields(template)
    unknown = [n for n in names if n not in fields]
    if unknown and fields:
        raise ConfigError(
            f"dataset.text_template uses field(s) {unknown} this dataset does not have; "
            f"available: {sorted(fields)}"
        )
    texts = []
    for index in range(count):
        text = render(template, {n: fields[n][index] for n in names if n in fields})
        texts.append(text or empty_text)
    return texts


def fill_empty_texts(texts: list[str], empty_text: str) -> tuple[list[str], int]:
    """Texts with blank or marker-only entries replaced by ``"item <id>"``; and how many were replaced."""
    marker = empty_text.strip()
    empty = [not text.strip() or text.strip() == marker for text in texts]
    filled = [
        f"item {i}" if blank else text for i, (text, blank) in enumerate(zip(texts, empty, strict=True), 1)
    ]
    return filled, sum(empty)
