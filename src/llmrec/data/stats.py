"""Dataset statistics: sizes, density, sequence-length percentiles, item-text coverage and the counts of
the readers' documented rules. ``python -m llmrec.data stats <name>`` prints them; the cache manifest
(``meta.json``) stores them."""

from __future__ import annotations

from typing import Any

import numpy as np

from llmrec.data.interactions import SequenceData
from llmrec.data.item_text import render_all

PERCENTILES = (0, 5, 25, 50, 75, 95, 99, 100)


def dataset_stats(data: SequenceData) -> dict[str, Any]:
    """Everything ``stats`` reports, as JSON-ready values."""
    lengths = data.lengths()
    users, items, interactions = data.num_users, data.num_items, data.num_interactions
    texts = render_all(data.item_fields, items, data.text_template, "")
    with_text = sum(1 for text in texts if text)
    read = data.notes.get("read_interactions", interactions)
    return {
        "users": users,
        "items": items,
        "interactions": interactions,
        "density": interactions / (users * items) if users and items else 0.0,
        "length": {
            "mean": float(lengths.mean()) if users else 0.0,
            **({f"p{q}": float(np.percentile(lengths, q)) for q in PERCENTILES} if users else {}),
        },
        "text": {
            "template": data.text_template,
            "empty_marker": data.empty_text,
            "items_with_text": with_text,
            "items_without_text": items - with_text,
            "coverage": with_text / items if items else 0.0,
            "fields": {name: sum(1 for v in values if v) for name, values in data.item_fields.items()},
        },
        "k_core": {
            "read_users": data.notes.get("read_users", users),
            "read_items": data.notes.get("read_items", items),
            "read_interactions": read,
            "removed_interactions": read - interactions,
            "fixed_point_on_input": read == interactions,
        },
        "rules": {k: v for k, v in data.notes.items() if not k.startswith("read_")},
    }


def format_stats(name: str, stats: dict[str, Any]) -> str:
    """A short human-readable report of :func:`dataset_stats`."""
    length, text, core = stats["length"], stats["text"], stats["k_core"]
    percentiles = "  ".join(f"{key}={value:g}" for key, value in length.items() if key != "mean")
    fields = ", ".join(f"{k} {v}" for k, v in text["fields"].items()) or "none"
    rules = ", ".join(f"{k}={v}" for k, v in stats["rules"].items()) or "none"
    lines = [
        f"dataset        {name}",
        f"users          {stats['users']:,}",
        f"items          {stats['items']:,}",
        f"interactions   {stats['interactions']:,}",
        f"density        {stats['density']:.6f}",
        f"seq length     mean={length.get('mean', 0):.2f}  {percentiles}",
        f"read           {core['read_users']:,} users, {core['read_items']:,} items, "
        f"{core['read_interactions']:,} interactions; k-core removed {core['removed_interactions']:,} "
        f"({'input already a fixed point' if core['fixed_point_on_input'] else 'input not a fixed point'})",
        f"item text      {text['items_with_text']:,}/{stats['items']:,} items ({text['coverage']:.1%}); "
        f"without text: {text['items_without_text']:,} (marker {text['empty_marker']!r})",
        f"text fields    {fields}",
        f"text template  {text['template'] or 'all fields joined with | '}",
        f"reader rules   {rules}",
    ]
    return "\n".join(lines)
