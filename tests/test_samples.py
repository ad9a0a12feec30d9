"""Training sample schemas (samples=tiled | prefixes | last_n | last_targets): the windows each cuts from a
hand-made history, the positions each model family trains on under it, and the settings that are refused."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from omegaconf import open_dict
from torch import Tensor, nn

from llmrec.data.batch import SeqBatch
from llmrec.data.datamodule import SequenceDataModule
from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError
from llmrec.models.base import check_train_targets
from llmrec.models.bert4rec import BERT4Rec
from llmrec.models.lite_llm4rec import training_examples
from llmrec.models.sasrec import SASRec
from llmrec.run.samples import check_samples, samples_record
from tests.conftest import CONF_DIR, compose_config
from tests.test_data_pipeline import data_from
from tests.test_e4srec import make as make_e4srec
from tests.test_llm_models import _model as make_llm_model

MAX_LEN = 3
# One user, items 1..8: training part 1..6 (targets 2..6), validation 7, test 8; a second user 9..12.
HISTORIES = [list(range(1, 9)), [9, 10, 11, 12]]
SCHEMAS = {"tiled": "all", "prefixes": "prefixes", "last_n": "recent", "last_targets": "last_prefixes"}
LAST_TARGETS = 2  # samples=last_targets' n here: targets 5, 6 of the first user, 10 of the second
WINDOWS = {
    "tiled": [[3, 4, 5, 6], [0, 1, 2, 3], [0, 0, 9, 10]],
    "prefixes": [[0, 0, 1, 2], [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 6], [0, 0, 9, 10]],
    "last_n": [[3, 4, 5, 6], [0, 0, 9, 10]],
    "last_targets": [[2, 3, 4, 5], [3, 4, 5, 6], [0, 0, 9, 10]],
}
TARGETS = {"tiled": "all", "prefixes": "last", "last_n": "all", "last_targets": "last"}
# (history, target) pairs each schema trains on: every training target once, or the last max_len
EVERY = Counter(
    {((1,), 2): 1, ((1, 2), 3): 1, ((3,), 4): 1, ((3, 4), 5): 1, ((3, 4, 5), 6): 1, ((9,), 10): 1}
)
TRAINED = {
    "tiled": EVERY,
    "prefixes": Counter({((1,), 2): 1, ((1, 2), 3): 1, ((1, 2, 3), 4): 1, ((2, 3, 4), 5): 1})
    + Counter({((3, 4, 5), 6): 1, ((9,), 10): 1}),
    "last_n": Counter({((3,), 4): 1, ((3, 4), 5): 1, ((3, 4, 5), 6): 1, ((9,), 10): 1}),
    "last_targets": Counter({((2, 3, 4), 5): 1, ((3, 4, 5), 6): 1, ((9,), 10): 1}),
}


def schema_windows(schema: str, max_len: int = MAX_LEN) -> Tensor:
    last = {"last_targets": LAST_TARGETS} if schema == "last_targets" else {}
    split = LeaveOneOut(data_from(HISTORIES))
    return SequenceDataModule(split, max_len, train_windows=SCHEMAS[schema], **last).train_set.windows


def pairs(histories: Tensor, targets: Tensor) -> Counter:
    return Counter(
        (tuple(int(i) for i in h if i != 0), int(t)) for h, t in zip(histories, targets, strict=True)
    )


@pytest.mark.parametrize("schema", SCHEMAS)
def test_each_schema_cuts_its_windows(schema: str) -> None:
    assert sorted(schema_windows(schema).tolist()) == sorted(WINDOWS[schema])


class Recorder(nn.Module):
    """A stand-in objective that keeps the targets the model trains on."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[int] = []

    def forward(self, h: Tensor, targets: Tensor, table: Tensor, *rest: Tensor) -> Tensor:
        self.targets += targets.tolist()
        return h.sum() * 0


@pytest.mark.parametrize("schema", SCHEMAS)
def test_sasrec_trains_each_schemas_targets(schema: str) -> None:
    recorder = Recorder()
    model = SASRec(12, MAX_LEN, hidden=8, heads=1, inner=8, loss=recorder, train_targets=TARGETS[schema])
    model.loss(SeqBatch(items=schema_windows(schema)))
    assert Counter(recorder.targets) == Counter(t for (_, t), n in TRAINED[schema].items() for _ in range(n))


@pytest.mark.parametrize("schema", SCHEMAS)
def test_lite_llm4rec_full_traversal_trains_each_schemas_pairs(schema: str) -> None:
    mode = "last" if TARGETS[schema] == "last" else "full"
    assert pairs(*training_examples(schema_windows(schema), mode)) == TRAINED[schema]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_e4srec_trains_each_schemas_pairs(schema: str, tmp_path: Path) -> None:
    net = make_e4srec(tmp_path, f"samples={schema}")
    assert pairs(*net.training_examples(schema_windows(schema))) == TRAINED[schema]


def test_subsampling_options_draw_from_the_schemas_targets(tmp_path: Path) -> None:
    windows = schema_windows("tiled")
    sampled = pairs(*training_examples(windows, "sample"))
    assert sum(sampled.values()) == len(windows) and not sampled - EVERY  # one of each window's
    net = make_e4srec(tmp_path, "model.targets_per_window=1")
    assert sum(pairs(*net.training_examples(windows)).values()) == len(windows)
    last = make_e4srec(tmp_path, "samples=prefixes", "model.targets_per_window=1")
    assert pairs(*last.training_examples(schema_windows("prefixes"))) == TRAINED["prefixes"]


def test_bert4rec_masks_cloze_positions_or_only_the_target() -> None:
    windows = schema_windows("tiled")[:, 1:]  # BERT4Rec reads a window's last max_len items
    torch.manual_seed(0)
    cloze = BERT4Rec(12, MAX_LEN, hidden=8, heads=1, inner=8, mask_prob=0.5).cloze_mask(windows)
    assert not (cloze & (windows == 0)).any() and cloze.any(dim=1).all()
    last = BERT4Rec(12, MAX_LEN, hidden=8, heads=1, inner=8, train_targets="last").cloze_mask(windows)
    assert last.tolist() == [[False, False, True]] * len(windows)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_llmseqprompt_trains_each_schemas_targets(schema: str, tmp_path: Path) -> None:
    model = make_llm_model(tmp_path, "llmseqprompt", f"samples={schema}", "model.train_positions=full")
    windows = schema_windows(schema)
    _, _, labels = model.training_examples(windows)
    completions = [row[row != -100].tolist() for row in labels]
    expected = [t for (_, t), n in TRAINED[schema].items() for _ in range(n)]
    titles = [[*model.tokenizer.encode(model.titles[t - 1]), model.tokenizer.eos_id] for t in expected]
    assert sorted(completions) == sorted(titles)
    assert model._target_positions(4) == ([3] if TARGETS[schema] == "last" else [1, 2, 3])


def test_llmseqprompt_default_samples_one_target_per_window(tmp_path: Path) -> None:
    model = make_llm_model(tmp_path, "llmseqprompt")
    assert model.train_positions == "sample" and not model.last_target_only
    _, _, labels = model.training_examples(schema_windows("tiled"))
    assert len(labels) == 3


TRAINABLE = ["sasrec", "sasrec_original", "llm2sasrec", "bert4rec", "llm2bert4rec", "e4srec", "e4srec_minilm"]
TRAINABLE += [
    "lite_llm4rec",
    "lite_llm4rec_sample",
    "lite_llm4rec_item_lora",
    "llmseqprompt",
    "hstu",
    "gru4rec",
    "tiger",
]


@pytest.mark.parametrize("model", TRAINABLE)
@pytest.mark.parametrize("schema", SCHEMAS)
def test_every_trainable_model_reads_the_studys_schema(model: str, schema: str, tmp_path: Path) -> None:
    cfg = compose_config([f"model={model}", f"samples={schema}"], tmp_path)
    assert cfg.model.train_targets == TARGETS[schema] and cfg.datamodule.train_windows == SCHEMAS[schema]
    assert check_samples(cfg)["name"] == schema
    if "stage1" in cfg.model:  # E4SRec's stage-1 SASRec trains under the same schema
        assert cfg.model.stage1.model.train_targets == TARGETS[schema]


def test_tiled_keeps_every_models_default_settings(tmp_path: Path) -> None:
    for model in TRAINABLE:
        cfg = compose_config([f"model={model}"], tmp_path)
        assert (cfg.samples.name, cfg.model.train_targets, cfg.datamodule.train_windows) == (
            "tiled",
            "all",
            "all",
        )
    lite = compose_config(["model=lite_llm4rec_sample"], tmp_path).model
    assert lite.train_positions == "sample"
    assert compose_config(["model=e4srec"], tmp_path).model.targets_per_window is None


def test_last_n_states_its_n(tmp_path: Path) -> None:
    cfg = compose_config(["samples=last_n", "dataset.max_len=7"], tmp_path)
    assert samples_record(cfg) == {"name": "last_n", "windows": "recent", "targets": "all", "n": 7}
    assert sorted(p.stem for p in (CONF_DIR / "samples").glob("*.yaml")) == sorted(SCHEMAS)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["model.train_targets=last"], ["model.train_targets=last", "samples=tiled"]),
        (["datamodule.train_windows=prefixes"], ["datamodule.train_windows=prefixes", "samples=tiled"]),
        (["samples.targets=last"], ["samples=tiled means windows=all, targets=all"]),
        (["samples.name=recent"], ["samples=recent is not a sample schema"]),
        (["samples=prefixes", "~model.train_targets"], ["sasrec has no train_targets", "tiled and last_n"]),
    ],
)
def test_a_setting_off_the_schema_is_refused(overrides: list[str], words: list[str], tmp_path: Path) -> None:
    cfg = compose_config(overrides, tmp_path)
    with pytest.raises(ConfigError) as error:
        check_samples(cfg)
    assert all(word in str(error.value) for word in words), str(error.value)


def test_a_model_refuses_a_schema_it_cannot_train_on() -> None:
    with pytest.raises(ConfigError, match=r"OnlyAll cannot train with train_targets='last'.*samples=tiled"):
        check_train_targets("OnlyAll", "last", supported=("all",))
    with pytest.raises(
        ConfigError, match=r"SASRec cannot train with train_targets='first'.*samples=prefixes"
    ):
        SASRec(12, MAX_LEN, train_targets="first")


def test_models_that_do_not_train_take_any_schema(tmp_path: Path) -> None:
    for model in ("popularity", "llmseqsim"):
        assert (
            check_samples(compose_config([f"model={model}", "samples=prefixes"], tmp_path))["name"]
            == "prefixes"
        )


def test_older_results_read_their_schema_from_the_windows(tmp_path: Path) -> None:
    cfg = compose_config(["datamodule.train_windows=recent"], tmp_path)
    with open_dict(cfg):
        del cfg["samples"]
    assert samples_record(cfg) == {"name": "last_n", "windows": "recent", "targets": "all"}


def test_last_targets_keep_each_users_last_n_targets_with_their_whole_history(tmp_path: Path) -> None:
    # max_len 10 covers both users: every history is whole, as in E4SRec's official samples
    windows = schema_windows("last_targets", max_len=10)
    expected = Counter({((1, 2, 3, 4), 5): 1, ((1, 2, 3, 4, 5), 6): 1, ((9,), 10): 1})
    assert pairs(*make_e4srec(tmp_path, "samples=last_targets").training_examples(windows)) == expected
    assert pairs(*training_examples(windows, "last")) == expected
    record = samples_record(compose_config(["samples=last_targets", "samples.n=7"], tmp_path))
    assert record == {"name": "last_targets", "windows": "last_prefixes", "targets": "last", "n": 7}


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"train_windows": "last_prefixes"}, ["datamodule.last_targets=None", "samples=last_targets"]),
        ({"train_windows": "prefixes", "last_targets": 3}, ["last_targets=3 with train_windows=prefixes"]),
        ({"train_windows": "last_prefixes", "last_targets": 0}, ["datamodule.last_targets"]),
    ],
)
def test_a_last_targets_setting_off_its_schema_is_refused(settings: dict, words: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        SequenceDataModule(LeaveOneOut(data_from(HISTORIES)), MAX_LEN, **settings)
    assert all(word in str(error.value) for word in words), str(error.value)


def test_last_targets_n_must_match_the_data_module(tmp_path: Path) -> None:
    cfg = compose_config(["samples=last_targets", "model=sasrec", "datamodule.last_targets=3"], tmp_path)
    with pytest.raises(ConfigError, match=r"datamodule\.last_targets=3 disagrees with samples\.n=50"):
        check_samples(cfg)
