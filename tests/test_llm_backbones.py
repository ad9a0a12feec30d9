"""Backbones by family (conf/llm/*.yaml), llm=hf, and the from_pretrained options passed through from config:
a tiny LLaMA saved to disk really loads with them; where a feature needs CUDA or a missing package, a mocked
from_pretrained receives exactly the configured options, and this machine's refusal is one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModelForCausalLM, LlamaConfig

from llmrec.errors import ConfigError
from llmrec.models.layers import llm_loading
from llmrec.models.layers.llm import LORA_TARGETS, LLMSpec, LoraSpec, hf_spec
from llmrec.run.pipeline import build_model
from tests.conftest import CONF_DIR, compose_config

# (config, family, folder it expects under ${paths.data_dir}/models, model, the model's llm key)
BACKBONES = [
    ("llama2_7b", "llama", "Llama-2-7b-hf", "e4srec", "llm"),
    ("llama2_13b", "llama", "Llama-2-13b-hf", "e4srec", "llm"),
    ("llama3_8b", "llama", "Meta-Llama-3-8B", "e4srec", "llm"),
    ("qwen2_5_7b", "qwen2", "Qwen2.5-7B", "e4srec", "llm"),
    ("qwen3_8b", "qwen3", "Qwen3-8B", "llmseqprompt", "llm"),
    ("mistral_7b", "mistral", "Mistral-7B-v0.3", "e4srec", "llm"),
    ("t5_base", "t5", "t5-base", "lite_llm4rec", "rec_llm"),
]


def tiny_llama(seed: int = 0) -> Any:
    config = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=64,
    )
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config)


@pytest.fixture
def saved_llama(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny-llama"
    tiny_llama().save_pretrained(folder)
    return folder


def adapters() -> LoraSpec:
    return LoraSpec(LORA_TARGETS["llama"], r=4, task_type="CAUSAL_LM")


# --- configs by family --------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "family", "folder", "model", "key"), BACKBONES)
def test_each_backbone_config_composes_and_names_its_missing_folder(
    name: str, family: str, folder: str, model: str, key: str, tmp_path: Path
) -> None:
    cfg = compose_config(
        [f"model={model}", f"llm@model.{key}={name}", f"paths.data_dir={tmp_path}"], tmp_path
    )
    assert cfg.model[key].source == str(tmp_path / "models" / folder)
    assert list(OmegaConf.load(CONF_DIR / "llm" / f"{name}.yaml").lora.target_modules) == LORA_TARGETS[family]
    with pytest.raises(ConfigError, match=rf"LLM weights not found at .*models/{folder} .*llm\.source"):
        build_model(cfg, num_items=11, max_len=int(cfg.dataset.max_len))


def test_hf_names_every_key_left_to_set(tmp_path: Path) -> None:
    cfg = compose_config(["model=e4srec", "llm@model.llm=hf"], tmp_path)
    with pytest.raises(ConfigError, match=r"set llm.source=.* llm.model_class=.* llm.lora.target_modules="):
        build_model(cfg, num_items=11, max_len=int(cfg.dataset.max_len))
    with pytest.raises(ConfigError, match=r"set llm.model_class=<[^>]*> \(LoRA targets by family: llama"):
        hf_spec(source=str(tmp_path), lora=None)


def test_hf_loads_the_named_backbone_with_its_adapters(saved_llama: Path) -> None:
    lora = {"target_modules": ["up_proj"], "r": 2, "alpha": 4}
    model = hf_spec(str(saved_llama), "transformers.AutoModelForCausalLM", lora, dtype="float32").load()
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("up_proj.lora_" in name for name in trainable)


def test_unknown_lora_targets_list_the_families() -> None:
    spec = LLMSpec(config=tiny_llama().config, lora=LoraSpec(["wi_0"]))
    with pytest.raises(ConfigError, match=r"qwen2: \['gate_proj'.*mistral: .*t5: \['wi', 'wo'\]"):
        spec.load()


# --- from_pretrained options ----------------------------------------------------------------------------
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_a_saved_llama_loads_with_its_options(saved_llama: Path, attention: str) -> None:
    spec = LLMSpec(source=str(saved_llama), attn_implementation=attention, device_map="cpu", lora=adapters())
    model = spec.load()
    assert model.config._attn_implementation == attention
    saved = tiny_llama().model.layers[1].mlp.up_proj.weight
    torch.testing.assert_close(model.get_base_model().model.layers[1].mlp.up_proj.base_layer.weight, saved)
    assert {p.device.type for p in model.parameters()} == {"cpu"}


def test_a_random_backbone_takes_an_attention_implementation() -> None:
    spec = LLMSpec(config=tiny_llama().config, attn_implementation="sdpa")
    assert spec.load().config._attn_implementation == "sdpa"


@pytest.fixture
def capable_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA and every optional package present, as far as the checks can tell."""
    monkeypatch.setattr(llm_loading, "cuda_available", lambda: True)
    monkeypatch.setattr(llm_loading, "installed", lambda package: True)


@pytest.fixture
def mocked_load(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``from_pretrained`` records its arguments and returns a tiny LLaMA; peft's k-bit preparation is
    recorded and then run (on the unquantized stand-in it freezes and keeps float32)."""
    import peft

    seen: dict[str, Any] = {}

    def from_pretrained(source: str, **kwargs: Any) -> Any:
        seen.update(kwargs, source=source)
        return tiny_llama()

    prepare = peft.prepare_model_for_kbit_training

    def recorded_prepare(model: Any, **kwargs: Any) -> Any:
        seen["prepared"] = kwargs
        return prepare(model, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", from_pretrained)
    monkeypatch.setattr(peft, "prepare_model_for_kbit_training", recorded_prepare)
    return seen


@pytest.mark.parametrize("bits", ["4bit", "8bit"])
@pytest.mark.usefixtures("capable_machine")
def test_from_pretrained_receives_exactly_the_configured_options(
    mocked_load: dict[str, Any], tmp_path: Path, bits: str
) -> None:
    spec = LLMSpec(
        source=str(tmp_path),
        dtype="bfloat16",
        gradient_checkpointing=True,
        lora=adapters(),
        device_map={"": 0},
        attn_implementation="flash_attention_2",
        quantization=bits,
    )
    model = spec.load()
    quantization = mocked_load.pop("quantization_config")
    assert mocked_load.pop("prepared") == {
        "use_gradient_checkpointing": True,
        "gradient_checkpointing_kwargs": {"use_reentrant": False},
    }
    assert mocked_load == {
        "source": str(tmp_path),
        "dtype": torch.bfloat16,
        "local_files_only": True,
        "trust_remote_code": False,
        "revision": None,
        "device_map": {"": 0},
        "attn_implementation": "flash_attention_2",
    }
    assert (quantization.load_in_8bit, quantization.load_in_4bit) == (bits == "8bit", bits == "4bit")
    if bits == "4bit":
        assert quantization.bnb_4bit_quant_type == "nf4" and quantization.bnb_4bit_use_double_quant
        assert quantization.bnb_4bit_compute_dtype == torch.bfloat16
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)


def test_unset_options_are_not_passed(mocked_load: dict[str, Any], tmp_path: Path) -> None:
    LLMSpec(source=str(tmp_path)).load()
    assert set(mocked_load) == {"source", "dtype", "local_files_only", "trust_remote_code", "revision"}


# --- refusals -------------------------------------------------------------------------------------------
REFUSALS = [
    (
        {"quantization": "8bit"},
        False,
        True,
        r"llm.quantization=8bit needs a CUDA GPU .*set llm.quantization=null",
    ),
    ({"quantization": "4bit"}, True, False, r"needs the bitsandbytes package: pip install bitsandbytes"),
    (
        {"attn_implementation": "flash_attention_2"},
        False,
        True,
        r"flash_attention_2 needs a CUDA GPU and this machine has none",
    ),
    ({"attn_implementation": "flash_attention_2"}, True, False, r"needs the flash-attn package"),
    ({"attn_implementation": "flash"}, True, True, r"not one of eager, sdpa, flash_attention_2"),
    ({"quantization": "3bit"}, True, True, r"llm.quantization=3bit is not one of 8bit, 4bit"),
    ({"quantization": "8bit", "freeze": False}, True, True, r"cannot be trained: keep llm.freeze=true"),
    (
        {"device_map": "auto", "device": "cuda:0"},
        True,
        True,
        r"place the weights themselves: set llm.device=null",
    ),
]


@pytest.mark.bad_input
@pytest.mark.parametrize(("options", "cuda", "packages", "message"), REFUSALS)
def test_what_the_machine_cannot_do_is_one_line(
    options: dict[str, Any],
    cuda: bool,
    packages: bool,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(llm_loading, "cuda_available", lambda: cuda)
    monkeypatch.setattr(llm_loading, "installed", lambda package: packages)
    with pytest.raises(ConfigError, match=message):
        LLMSpec(source=str(tmp_path), **options)


@pytest.mark.bad_input
@pytest.mark.parametrize("option", [{"device_map": "auto"}, {"quantization": "4bit"}])
def test_a_random_backbone_refuses_loading_options(option: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"applies to pretrained weights .*: set llm\.\w+=null"):
        LLMSpec(config=tiny_llama().config, **option)


@pytest.mark.bad_input
@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal of a machine without CUDA")
def test_this_machine_refuses_quantization_and_flash_attention(tmp_path: Path) -> None:
    for option in ({"quantization": "8bit"}, {"attn_implementation": "flash_attention_2"}):
        with pytest.raises(ConfigError, match="needs a CUDA GPU"):
            LLMSpec(source=str(tmp_path), **option)
