"""Honest row names from the real configs, and what a run was evaluated under (older results.json too)."""

from __future__ import annotations

from typing import Any

import pytest
from omegaconf import OmegaConf

from llmrec.report.names import model_label
from llmrec.report.runs import protocol_of, samples_of
from tests.conftest import compose_config


def label_of(*overrides: str) -> str:
    cfg = compose_config(list(overrides))
    model = OmegaConf.to_container(cfg.model, resolve=True)
    return model_label({"model": str(cfg.model.name), "config": {"model": model}})


@pytest.mark.parametrize(
    ("overrides", "label"),
    [
        (["model=sasrec"], "sasrec"),
        (["model=e4srec"], "e4srec[tiny-llama,random]"),
        (["model=e4srec_minilm"], "e4srec[minilm]"),
        (["model=e4srec", "llm@model.llm=minilm"], "e4srec[minilm]"),
        (["model=lite_llm4rec"], "lite_llm4rec[minilm+tiny-t5,random]"),
        (["model=lite_llm4rec_item_lora"], "lite_llm4rec_item_lora[tiny-bert,random+tiny-t5,random]"),
        (["model=llm2sasrec"], "llm2sasrec[minilm]"),
        (["model=llm2sasrec", "encoder=hashing"], "llm2sasrec[hashing]"),
        (["model=llmseqsim"], "llmseqsim[minilm]"),
        (["model=llmseqprompt"], "llmseqprompt[tiny-llama,random+minilm]"),
        (["model=popularity"], "popularity"),
        (["model=tiger"], "tiger[minilm+tiny-t5,random]"),
        (["model=tiger", "model.backbone=/models/t5-small"], "tiger[minilm+t5-small]"),
    ],
)
def test_labels_of_the_shipped_configs(overrides: list[str], label: str) -> None:
    assert label_of(*overrides) == label


def test_a_pretrained_backbone_is_named_by_its_folder() -> None:
    spec = "llmrec.models.layers.llm.LLMSpec"
    llm = {"_target_": spec, "source": "/models/Llama-2-13b-hf/", "config": None}
    assert model_label({"model": "e4srec", "config": {"model": {"llm": llm}}}) == "e4srec[llama-2-13b-hf]"
    big = {"_target_": "transformers.LlamaConfig", "hidden_size": 4096}
    llm = {"_target_": spec, "source": None, "config": big}
    assert model_label({"model": "e4srec", "config": {"model": {"llm": llm}}}) == "e4srec[llama-4096,random]"
    assert model_label({"model": "sasrec"}) == "sasrec"  # no config at all: the name


def old(mask_history: Any = None, train_windows: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if mask_history is not None:
        config["eval"] = {"mask_history": mask_history}
    if train_windows is not None:
        config["datamodule"] = {"train_windows": train_windows}
    return {"model": "m", "config": config}


def test_defaults_for_results_written_before_protocols_and_samples() -> None:
    assert protocol_of(old()) == {"name": "loo", "mask_history": True}
    assert protocol_of(old(mask_history=False)) == {"name": "loo_unmasked", "mask_history": False}
    assert [samples_of(old(train_windows=w))["name"] for w in ("all", "prefixes", "recent")] == [
        "tiled",
        "prefixes",
        "last_n",
    ]
    assert samples_of(old()) == {"name": "tiled"}
    recorded = {"protocol": {"name": "sampled", "negatives": 99}, "samples": {"name": "prefixes"}}
    assert protocol_of(old(mask_history=True) | recorded)["negatives"] == 99
    assert samples_of(old(train_windows="all") | recorded) == {"name": "prefixes"}
