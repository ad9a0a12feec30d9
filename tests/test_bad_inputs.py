"""Bad-input campaign, part 1: the app (part 2, data CLI and report: test_bad_inputs_cli.py). Every entry
point refuses bad input with one line naming the problem and the fix, a non-zero exit, and no traceback
from deep inside. Mostly in-process; a few subprocesses check the real command lines.
``conftest.pytest_terminal_summary`` prints the number of cases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import HydraException

from tests.bad_input_helpers import (
    amazon,
    expect_error,
    good_sequences,
    gz,
    one_line,
    processed,
    run_tiny,
)
from tests.conftest import compose_config
from tests.data_fixtures import review

pytestmark = pytest.mark.bad_input
ROOT = Path(__file__).resolve().parents[1]

# --- config: misspelt keys and groups fail at composition (Hydra struct mode) ------------------------
COMPOSE_ERRORS = [
    (["model=sasrek"], "model/sasrek"),
    (["dataset=nope"], "dataset/nope"),
    (["trainer=tpu"], "trainer/tpu"),
    (["model.hiden=3"], "hiden"),
    (["trainer.max_epoch=3"], "max_epoch"),
    (["datamodule.batchsize=8"], "batchsize"),
    (["eval.k=[5]"], "eval.k"),
    (["resum=true"], "resum"),
]


@pytest.mark.parametrize(("overrides", "needle"), COMPOSE_ERRORS)
def test_misspelt_config_fails_at_composition(overrides: list[str], needle: str) -> None:
    with pytest.raises(HydraException, match=needle):
        compose_config(["debug=tiny", *overrides])


# --- config: impossible values fail before training --------------------------------------------------
VALUE_ERRORS = [
    (["+model.typo=1"], ["typo", "remove that key"]),
    (["+datamodule.typo=1"], ["typo", "remove that key"]),
    (["dataset.max_len=0"], ["max_len", "positive"]),
    (["dataset.max_len=-5"], ["max_len", "positive"]),
    (["dataset.max_len=abc"], ["dataset.max_len", "integer"]),
    (["datamodule.batch_size=0"], ["batch_size", "positive"]),
    (["datamodule.batch_size=-1"], ["batch_size", "positive"]),
    (["datamodule.eval_batch_size=0"], ["eval_batch_size", "positive"]),
    (["model.hidden=0"], ["model.hidden", "positive"]),
    (["model.hidden=-4"], ["model.hidden", "positive"]),
    (["model.layers=0"], ["model.layers", "positive"]),
    (["model.heads=0"], ["model.heads"]),
    (["model.heads=3"], ["model.hidden=64", "multiple of model.heads=3"]),
    (["model.inner=0"], ["model.inner", "positive"]),
    (["model.dropout=1.5"], ["model.dropout", "[0, 1)"]),
    (["model.lr=0"], ["model.lr", "positive"]),
    (["model.lr=-1"], ["model.lr", "positive"]),
    (["model=bert4rec", "model.mask_prob=0"], ["model.mask_prob", "(0, 1)"]),
    (["model=bert4rec", "model.heads=0"], ["model.heads"]),
    (["trainer.max_epochs=-2"], ["max_epochs", "trainer"]),
    (["eval.ks=[0,5]"], ["eval.ks", "positive integers"]),
    (["eval.ks=[]"], ["eval.ks", "non-empty"]),
    (["eval.monitor=val/ndcg_7"], ["eval.monitor", "eval.ks"]),
    (["eval.monitor=test/ndcg_10"], ["eval.monitor", "validation metric"]),
    (["eval.monitor=val/ndcg"], ["eval.monitor", "validation metric"]),
    (["dataset.k_core=-2"], ["k_core", ">= 0"]),
    (["seed=abc"], ["seed", "integer"]),
    (["eval.ks=5"], ["eval.monitor", "eval.ks=[5]"]),
    (["datamodule.batch_size=abc"], ["batch_size", "positive integer"]),
    (["model.lr=abc"], ["model.lr", "positive"]),
    (["model.dropout=abc"], ["model.dropout", "[0, 1)"]),
    (["model.hidden=abc"], ["model.hidden", "positive integer"]),
    (["trainer.max_epochs=abc"], ["trainer.max_epochs", "integer"]),
    (["trainer.gradient_clip_val=high"], ["trainer.gradient_clip_val", "number"]),
    (["seed=-1"], ["seed", "2**32"]),
    (["dataset.source.num_items=0"], ["num_items", "positive"]),
    (["callbacks=cosine", "lr_scheduler.epochs=0"], ["lr_scheduler.epochs", "positive"]),
    (["callbacks=cosine", "lr_scheduler.scheduler.min_lr_rate=2"], ["min_lr_rate", "[0, 1]"]),
    (
        ["callbacks=cosine", "lr_scheduler.epochs=3", "lr_scheduler.warmup_epochs=3"],
        ["warmup_epochs", "below epochs"],
    ),
    (["callbacks=cosine", "trainer.max_epochs=-1"], ["lr_scheduler.epochs=<n>"]),
    (["optimizer=adam", "+optimizer.lr=0.1"], ["model.lr"]),
    (["datamodule.window_stride=0"], ["datamodule.window_stride", "[1, max_len"]),
    (["model=bert4rec", "datamodule.window_stride=2"], ["window_stride", "BERT4Rec", "window_stride=null"]),
]


@pytest.mark.parametrize(("overrides", "needles"), VALUE_ERRORS)
def test_impossible_value_is_one_clear_error(
    overrides: list[str], needles: list[str], tmp_path: Path
) -> None:
    expect_error(lambda: run_tiny(tmp_path, *overrides), *needles)
    assert not (tmp_path / "out" / "results.json").exists()


# --- data files -----------------------------------------------------------------------------------
DATA_ERRORS = [
    (b"", ["is empty", "replace it"]),
    (b"u1 1 2 3 4 5\nu2\n", ["Beauty.txt:2", "user item item"]),
    (b"u1 1 2 3 4 5\nu1 2 3 4 5 6\n", ["Beauty.txt:2", "already has a line", "merge"]),
    (b"u1 1 2\nu2 3 4\n", ["empty after", "fewer than 3", "k_core"]),
    ("u1 caf\xe9 2 3\n".encode("latin-1"), ["Beauty.txt:1", "utf-8", "re-export"]),
    ("u1 1 2 3\n".encode("utf-16"), ["Beauty.txt:1", "utf-8"]),
    (bytes(range(256)) * 4, ["Beauty.txt:1"]),
]


@pytest.mark.parametrize(("content", "needles"), DATA_ERRORS)
def test_bad_sequences_file(content: bytes, needles: list[str], tmp_path: Path) -> None:
    expect_error(lambda: run_tiny(tmp_path, *processed(tmp_path, content)), *needles)
    assert not list((tmp_path / "cache").rglob("*.npz")), "a failed read must leave no cache entry"


def test_missing_dataset_folder(tmp_path: Path) -> None:
    overrides = ["dataset=processed", f"dataset.root={tmp_path / 'nowhere'}", "model=popularity"]
    expect_error(lambda: run_tiny(tmp_path, *overrides), "nowhere/Beauty.txt is missing", "dataset.root")


def test_missing_sequences_file(tmp_path: Path) -> None:
    overrides = processed(tmp_path, good_sequences(), name="Other.txt")
    expect_error(lambda: run_tiny(tmp_path, *overrides), "Beauty.txt is missing", "dataset.root=")


def test_non_numeric_and_out_of_range_attribute_ids(tmp_path: Path) -> None:
    overrides = processed(tmp_path, good_sequences())
    (tmp_path / "data" / "Beauty_item2attributes.json").write_text('{"1": "not a list"}')
    expect_error(lambda: run_tiny(tmp_path, *overrides), "item2attributes", "attribute id")


def test_bad_datamaps_json(tmp_path: Path) -> None:
    overrides = processed(tmp_path, good_sequences())
    (tmp_path / "data" / "datamaps.json").write_text('{"id2item": ')
    expect_error(lambda: run_tiny(tmp_path, *overrides, "dataset.source.original_ids=true"), "not valid JSON")


def test_datamaps_missing_an_item_id(tmp_path: Path) -> None:
    overrides = processed(tmp_path, good_sequences())
    (tmp_path / "data" / "datamaps.json").write_text('{"id2item": {"1": "A1"}}')
    expect_error(lambda: run_tiny(tmp_path, *overrides, "dataset.source.original_ids=true"), "not in id2item")


ML1M_ERRORS = [
    ("1::10::5::abc\n", "ratings.dat:1"),  # non-numeric timestamp
    ("1::10::5\n", "ratings.dat:1"),  # a field missing
    ("1;10;5;100\n", "UserID::MovieID::Rating::Timestamp"),  # wrong separator
]


@pytest.mark.parametrize(("ratings", "needle"), ML1M_ERRORS)
def test_bad_movielens_ratings(ratings: str, needle: str, tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "ratings.dat").write_text(ratings, encoding="latin-1")
    overrides = ["dataset=ml1m", f"dataset.root={folder}", "dataset.max_len=5", "model=popularity"]
    expect_error(lambda: run_tiny(tmp_path, *overrides), needle)


def test_item_text_table_with_wrong_columns(tmp_path: Path) -> None:
    overrides = processed(tmp_path, good_sequences())
    (tmp_path / "data" / "items.tsv").write_text("id\tname\n1\tx\n", encoding="utf-8")
    extra = "dataset.source.item_text_file=items.tsv"
    expect_error(lambda: run_tiny(tmp_path, *overrides, extra), "missing column(s)", "item_id_column")


def test_truncated_gzip(tmp_path: Path) -> None:
    whole = gz([review(f"u{u}", f"i{(u + j) % 6}", j) for u in range(10) for j in range(6)])
    expect_error(lambda: run_tiny(tmp_path, *amazon(tmp_path, whole[: len(whole) // 2])), "truncated")


def test_gzip_name_but_plain_text(tmp_path: Path) -> None:
    overrides = amazon(tmp_path, b'{"reviewerID": "u"}\n' * 3)
    expect_error(lambda: run_tiny(tmp_path, *overrides), "reviews_Beauty_5.json.gz", "gzip")


def test_malformed_review_line(tmp_path: Path) -> None:
    lines = [review("u1", "a", 1), "{not json", review("u1", "b", 2)]
    expect_error(lambda: run_tiny(tmp_path, *amazon(tmp_path, gz(lines))), "reviews_Beauty_5.json.gz:2")


def test_metadata_code_is_never_evaluated(tmp_path: Path) -> None:
    reviews = gz([review(f"u{u}", f"i{(u + j) % 6}", j) for u in range(10) for j in range(6)])
    meta = gz(["{'asin': 'i1', 'title': __import__('os').system('touch PWNED')}"])
    expect_error(lambda: run_tiny(tmp_path, *amazon(tmp_path, reviews, meta)), "meta_Beauty.json.gz:1")
    assert not Path("PWNED").exists() and not (tmp_path / "PWNED").exists()


# --- k larger than the catalog: allowed and documented (HR@k = 1 when every item is in the list) -----
def test_k_larger_than_catalog_is_allowed_and_gives_hr_1(tmp_path: Path) -> None:
    results = run_tiny(tmp_path, "model=popularity", "eval.ks=[10,1000]")
    assert results["metrics"]["test"]["hr_1000"] == 1.0


# --- checkpoints from another run ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("i9_finished")
    run_tiny(base, "trainer.max_epochs=1", out="run")
    return base / "run"


def _reuse(tmp_path: Path, finished: Path) -> Path:
    out = tmp_path / "out" / "checkpoints"
    out.mkdir(parents=True)
    (out / "last.ckpt").write_bytes((finished / "checkpoints" / "last.ckpt").read_bytes())
    return out / "last.ckpt"


def test_checkpoint_from_another_dataset(tmp_path: Path, finished_run: Path) -> None:
    _reuse(tmp_path, finished_run)
    call = lambda: run_tiny(tmp_path, "resume=true", "dataset.source.num_items=50")  # noqa: E731
    expect_error(call, "another run", "dataset", "hydra.run.dir")


def test_checkpoint_from_another_model(tmp_path: Path, finished_run: Path) -> None:
    _reuse(tmp_path, finished_run)
    expect_error(lambda: run_tiny(tmp_path, "resume=true", "model=bert4rec"), "another run", "BERT4Rec")


def test_truncated_checkpoint(tmp_path: Path, finished_run: Path) -> None:
    path = _reuse(tmp_path, finished_run)
    path.write_bytes(path.read_bytes()[:1000])
    expect_error(lambda: run_tiny(tmp_path, "resume=true"), "cannot be read", "delete it")


def test_checkpoint_left_by_an_earlier_run_needs_resume(tmp_path: Path, finished_run: Path) -> None:
    _reuse(tmp_path, finished_run)
    expect_error(lambda: run_tiny(tmp_path), "earlier run", "resume=true")


def test_resuming_a_finished_run_is_refused(tmp_path: Path, finished_run: Path) -> None:
    _reuse(tmp_path, finished_run)
    (tmp_path / "out" / "results.json").write_text((finished_run / "results.json").read_text())
    expect_error(lambda: run_tiny(tmp_path, "resume=true"), "already finished", "hydra.run.dir")


# --- a handful of real command lines -----------------------------------------------------------------
def _cli(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("module", "args", "needle"),
    [
        ("llmrec", ["+model.typo=1", "debug=tiny"], "typo"),
        ("llmrec", ["seed=abc", "debug=tiny"], "seed must be an integer"),
        ("llmrec.data", ["stats", "tiny", "dataset.rot=1"], "dataset.rot"),
        ("llmrec", ["--config-dir", "no_such_folder", "debug=tiny"], "--config-dir no_such_folder"),
        ("llmrec", ["--config-dir=no_such_folder", "--cfg", "job"], "is not a folder"),
    ],
)
def test_command_line_prints_one_error_line(
    module: str, args: list[str], needle: str, tmp_path: Path
) -> None:
    extra = [f"hydra.run.dir={tmp_path / 'o'}", f"paths.cache_dir={tmp_path}"] if module == "llmrec" else []
    proc = _cli(module, *args, *extra, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    one_line(lines[0], needle)
