"""Published figures for the reproduction ledger: ``experiments/published.yaml``, a list of entries

    - paper: "Klenitskiy & Vasilev, RecSys 2023"   # who reported the number
      table: "README, Main paper results"          # where in the paper or its code
      source: https://...                          # where it can be read
      dataset: ml1m                                # llmrec's dataset name
      model: sasrec                                # llmrec's model label the figure is compared with
      protocol: loo                                # llmrec's protocol closest to the paper's
      metric: ndcg_10                              # llmrec's test metric name
      value: 0.1821
      note: "..."                                  # the paper's exact setting: split, masking, data file
      also_models: [bert4rec_beauty]               # optional: llmrec presets of the same model

Every field but ``also_models`` is required; a missing or malformed one is one error naming the entry and
the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from llmrec.errors import LlmrecError
from llmrec.report.rankings import PROTOCOL_ORDER

TEXT_FIELDS = ("paper", "table", "source", "dataset", "model", "protocol", "metric", "note")


@dataclass(frozen=True)
class Figure:
    paper: str
    table: str
    source: str
    dataset: str
    model: str
    protocol: str
    metric: str
    value: float
    note: str
    also_models: tuple[str, ...] = ()  # labels of llmrec presets of the same model (e.g. the authors' values)

    def labels(self) -> tuple[str, ...]:
        """The llmrec model labels whose runs stand for this figure's model."""
        return (self.model, *self.also_models)

    def sort_key(self) -> tuple[str, str, str, str, str, str]:
        return (self.dataset, self.model, self.metric, self.paper, self.table, self.protocol)


def _figure(entry: Any, where: str) -> Figure:
    if not isinstance(entry, dict):
        raise LlmrecError(f"{where} is not a mapping; write each figure as `- paper: ...` with its fields")
    missing = [f for f in (*TEXT_FIELDS, "value") if f not in entry]
    if missing:
        raise LlmrecError(
            f"{where} lacks {', '.join(missing)}; every figure needs {', '.join(TEXT_FIELDS)}, value"
        )
    not_text = [f for f in TEXT_FIELDS if not isinstance(entry[f], str) or not entry[f].strip()]
    if not_text:
        raise LlmrecError(f"{where}: {', '.join(not_text)} must be non-empty text")
    value = entry["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LlmrecError(f"{where}: value must be a number (the published figure), not {value!r}")
    if entry["protocol"] not in PROTOCOL_ORDER:
        raise LlmrecError(
            f"{where}: protocol {entry['protocol']!r} is not one of {', '.join(PROTOCOL_ORDER)}; name the "
            f"closest llmrec protocol and describe the paper's exact one in note"
        )
    unknown = sorted(set(entry) - {*TEXT_FIELDS, "value", "also_models"})
    if unknown:
        raise LlmrecError(f"{where}: unknown field(s) {', '.join(unknown)}")
    also = entry.get("also_models", [])
    if not isinstance(also, list) or not all(isinstance(label, str) and label.strip() for label in also):
        raise LlmrecError(f"{where}: also_models must be a list of llmrec model labels, not {also!r}")
    fields = {f: str(entry[f]).strip() for f in TEXT_FIELDS}
    return Figure(**fields, value=float(value), also_models=tuple(label.strip() for label in also))


def load_entries(path: Path, kind: str, option: str) -> list[Any]:
    """The non-empty YAML list of ``path`` (``kind``: what it lists, ``option``: the flag that names it)."""
    if not path.is_file():
        raise LlmrecError(f"{path} not found; give the YAML of {kind} with {option} PATH")
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise LlmrecError(f"{path} is not valid YAML ({error})") from None
    if not isinstance(entries, list) or not entries:
        raise LlmrecError(f"{path} must hold a non-empty list of {kind} (`- paper: ...` entries)")
    return entries


def load_published(path: Path) -> list[Figure]:
    """The figures of ``path``, sorted by dataset, model, metric, paper."""
    entries = load_entries(path, "published figures", "--published")
    figures = [_figure(entry, f"{path} entry {i + 1}") for i, entry in enumerate(entries)]
    return sorted(figures, key=Figure.sort_key)
