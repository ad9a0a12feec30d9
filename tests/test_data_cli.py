"""The data CLI (download, stats), the cache manifest, and item-text templates."""

from __future__ import annotations

import hashlib
import io
import json
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

from llmrec.data.__main__ import main
from llmrec.data.cache import load_sequence_data
from llmrec.data.download import DownloadPlan, RemoteFile, fetch, plan_for
from llmrec.data.interactions import SequenceData
from llmrec.data.item_text import render
from llmrec.data.sources.amazon import Amazon2014
from llmrec.data.sources.movielens import MovieLens100K
from llmrec.errors import ConfigError, DataError
from tests.data_fixtures import amazon_raw, ml100k


def _offline(request: object, timeout: float = 0) -> object:
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


class _Response(io.BytesIO):
    def __init__(self, body: bytes, status: int) -> None:
        super().__init__(body)
        self.status = status
        self.headers = {"Content-Length": str(len(body))}


def test_download_offline_fails_at_once_with_the_files_to_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    assert main(["download", "beauty", "--root", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "cannot download http://snap.stanford.edu/" in err and "offline?" in err
    assert f"by hand in {(tmp_path / 'b').resolve()}/" in err
    assert "reviews_Beauty_5.json.gz  <- http" in err and "meta_Beauty.json.gz  <- http" in err


def test_download_unroutable_url_times_out_quickly(tmp_path: Path) -> None:
    plan = DownloadPlan("x", (RemoteFile("http://10.255.255.1:9/f.gz", "f.gz"),))
    with pytest.raises(DataError, match=r"f.gz  <- http://10.255.255.1:9/f.gz"):
        fetch(plan, tmp_path, timeout=0.5)


def test_download_resumes_with_range_and_checks_the_digest(tmp_path: Path) -> None:
    body = b"0123456789" * 100
    (tmp_path / "f.gz.part").write_bytes(body[:300])
    seen: list[str | None] = []

    def opener(request: urllib.request.Request, timeout: float) -> _Response:
        seen.append(request.get_header("Range"))
        start = int(request.get_header("Range").split("=")[1].rstrip("-"))
        return _Response(body[start:], 206)

    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    progress: list[tuple[int, int | None]] = []
    plan = DownloadPlan("x", (RemoteFile("http://example/f.gz", "f.gz", digest),))
    fetch(plan, tmp_path, opener=opener, progress=lambda _, done, total: progress.append((done, total)))
    assert seen == ["bytes=300-"] and (tmp_path / "f.gz").read_bytes() == body
    assert progress[-1] == (1000, 1000) and not (tmp_path / "f.gz.part").exists()
    bad = DownloadPlan("x", (RemoteFile("http://example/g.gz", "g.gz", "md5:" + "0" * 32),))
    with pytest.raises(DataError, match=r"md5 .* != published 0000"):
        fetch(bad, tmp_path, opener=lambda r, timeout: _Response(body, 200))
    assert not (tmp_path / "g.gz").exists() and not (tmp_path / "g.gz.part").exists()


def test_download_unzips_grouplens_archives(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("ml-100k/u.data", "1\t2\t3\t4\n")
    payload = archive.getvalue()
    plan = plan_for("ml100k")
    remote = RemoteFile(plan.files[0].url, "ml-100k.zip", "md5:" + hashlib.md5(payload).hexdigest(), True)
    fetch(DownloadPlan("ml-100k", (remote,)), tmp_path, opener=lambda r, timeout: _Response(payload, 200))
    assert (tmp_path / "u.data").read_text() == "1\t2\t3\t4\n"


def test_yelp_download_is_manual(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"(?s)yelp_academic_dataset_review.json.*accept the terms"):
        fetch(plan_for("yelp"), tmp_path, opener=_offline)


def test_no_implicit_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used"))
    with pytest.raises(DataError, match=r"u\.data is missing"):
        MovieLens100K(root=str(tmp_path)).read()
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    with pytest.raises(DataError, match=r"ml-100k\.zip  <- https://files\.grouplens\.org"):
        MovieLens100K(root=str(tmp_path), download=True).read()


def test_stats_cli_prints_and_writes_the_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, cache = ml100k(tmp_path / "ml"), tmp_path / "cache"
    args = ["stats", "ml100k", f"dataset.root={root}", f"paths.cache_dir={cache}", "dataset.k_core=0"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "users          2" in out and "items          3" in out and "interactions   6" in out
    assert "density        1.000000" in out and "p50=3" in out
    assert "item text      3/3 items (100.0%)" in out and "title 3, genres 2" in out
    (entry,) = (cache / "datasets").iterdir()
    stats = json.loads((entry / "meta.json").read_text())["stats"]
    assert (
        stats["users"] == 2 and stats["text"]["fields"]["genres"] == 2 and stats["k_core"]["read_items"] == 3
    )
    assert main(["stats", "nonexistent"]) == 2
    assert main(["stats", "ml100k", f"dataset.root={tmp_path / 'nowhere'}"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_failed_preprocessing_leaves_no_entry_and_corruption_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "ratings_B.csv").write_text("u,i,5,1\nu,j,5,x\n")
    with pytest.raises(DataError):
        load_sequence_data(Amazon2014(root=str(tmp_path / "bad"), category="B"), 0, cache)
    assert not cache.exists() or not any(cache.iterdir())
    source = Amazon2014(root=str(amazon_raw(tmp_path / "ok")))
    data, fingerprint = load_sequence_data(source, 0, cache)
    meta = json.loads((cache / fingerprint / "meta.json").read_text())
    assert meta["stats"]["text"]["items_without_text"] == 1 and meta["empty_text"] == "[no text]"
    with (cache / fingerprint / "data.npz").open("ab") as handle:
        handle.write(b"garbage")
    again, _ = load_sequence_data(source, 0, cache)
    assert np.array_equal(again.items, data.items) and again.item_text() == data.item_text()


def test_templates_and_the_old_item_text_signature() -> None:
    assert render("{title} | {brand} | {categories}", {"title": "T", "categories": "C"}) == "T | C"
    assert render("{title} | {brand}", {"brand": "B"}) == "B"
    assert render("Movie: {title} ({genres})", {"title": "Heat"}) == "Movie: Heat"
    data = SequenceData(
        items=np.array([1, 2]), offsets=np.array([0, 2]), user_ids=["u"], item_ids=["a", "b"],
        item_fields={"title": ["A", ""], "brand": ["X", ""]},
    )  # fmt: skip
    assert data.item_text() == ["A | X", ""]  # defaults unchanged: "" when no marker is configured
    assert data.item_text(["brand"], separator=" / ") == ["X", ""]
    data.empty_text, data.text_template = "[no text]", "{brand}: {title}"
    assert data.item_text() == ["X: A", "[no text]"]
    with pytest.raises(ConfigError, match="does not have"):
        data.item_text(template="{price}")
    with pytest.raises(ConfigError, match="plain"):
        data.item_text(template="{title!r}")
