"""Fetch the publishers' raw files into a data folder: checksums where published, resumable (HTTP Range),
progress through a callback. Offline, it fails at once with the list of files to place by hand and where.

Nothing here runs during training unless a dataset config sets ``download: true``.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec.data.sources.amazon2023 import check_category, check_split
from llmrec.errors import DataError

AMAZON_2014 = "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles"
AMAZON_2023 = "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_2023"
GROUPLENS = "https://files.grouplens.org/datasets/movielens"
STEAM = "https://cseweb.ucsd.edu/~wckang"
AMAZON_ALIASES = {"beauty": "Beauty", "sports": "Sports_and_Outdoors", "toys": "Toys_and_Games"}
CHUNK = 1 << 20

Progress = Callable[[str, int, "int | None"], None]  # (file name, bytes so far, total or None)


@dataclass(frozen=True)
class RemoteFile:
    url: str
    name: str
    digest: str | None = None  # "sha256:<hex>" or "md5:<hex>" (GroupLens publishes md5 only)
    unzip: bool = False  # extract the archive's files flat into the folder


@dataclass(frozen=True)
class DownloadPlan:
    dataset: str
    files: tuple[RemoteFile, ...]
    note: str = ""  # licence / terms to accept
    manual: bool = False  # no direct download (Yelp): the note says what to do
    config: str | None = None  # the conf/dataset config whose root is the default target folder


def _amazon(category: str) -> DownloadPlan:
    return DownloadPlan(
        f"amazon-{category}",
        (
            RemoteFile(f"{AMAZON_2014}/reviews_{category}_5.json.gz", f"reviews_{category}_5.json.gz"),
            RemoteFile(f"{AMAZON_2014}/meta_{category}.json.gz", f"meta_{category}.json.gz"),
        ),
        "Amazon 2014 (J. McAuley, UCSD): research use only; cite McAuley et al. SIGIR 2015 and "
        "He & McAuley WWW 2016.",
    )


def _amazon2023(name: str) -> DownloadPlan:
    """``amazon2023-<Category>``: raw reviews + metadata; ``amazon2023-<Category>-<split>``: the benchmark
    split's three CSVs + metadata. Files keep the server's relative paths (the layout the reader expects)."""
    category, _, split = name.removeprefix("amazon2023-").partition("-")
    how = "amazon2023-<Category>[-last_out|-timestamp] (e.g. amazon2023-All_Beauty-last_out)"
    check_category(category, how)
    check_split(split or "raw", "the split in amazon2023-<Category>-<split>")
    if split in ("", "raw"):
        paths = [f"raw/review_categories/{category}.jsonl.gz"]
    else:
        paths = [f"benchmark/5core/{split}/{category}.{stage}.csv.gz" for stage in ("train", "valid", "test")]
    paths.append(f"raw/meta_categories/meta_{category}.jsonl.gz")
    note = (
        "Amazon Reviews 2023 (McAuley Lab, UCSD): research use; cite Hou et al., Bridging Language and "
        "Items for Retrieval and Recommendation, 2024."
    )
    files = tuple(RemoteFile(f"{AMAZON_2023}/{path}", path) for path in paths)
    return DownloadPlan(name, files, note, config="amazon2023")


def plan_for(name: str) -> DownloadPlan:
    """The files of dataset ``name``: beauty, sports, toys, amazon-<Category>,
    amazon2023-<Category>[-last_out|-timestamp], ml1m, ml100k, steam, yelp."""
    key = name.lower().replace("_", "-")
    if key == "amazon2023":
        raise DataError(
            "amazon2023 needs a category: amazon2023-<Category> (raw reviews) or "
            "amazon2023-<Category>-last_out|-timestamp (the benchmark split), e.g. amazon2023-All_Beauty"
        )
    if name.startswith("amazon2023-"):
        return _amazon2023(name)
    if key in AMAZON_ALIASES:
        return _amazon(AMAZON_ALIASES[key])
    if name.startswith("amazon-"):
        return _amazon(name.removeprefix("amazon-"))
    grouplens = {
        "ml1m": ("ml-1m", "c4d9eecfca2ab87c1945afe126590906"),
        "ml100k": ("ml-100k", "0e33842e24a9c977be4e0107933c0723"),
    }
    if key.replace("-", "") in grouplens:
        stem, md5 = grouplens[key.replace("-", "")]
        note = (
            "MovieLens (GroupLens): research use only, no redistribution; cite Harper & Konstan, TiiS 2015."
        )
        return DownloadPlan(
            stem, (RemoteFile(f"{GROUPLENS}/{stem}.zip", f"{stem}.zip", f"md5:{md5}", True),), note
        )
    if key == "steam":
        files = tuple(RemoteFile(f"{STEAM}/{n}", n) for n in ("steam_reviews.json.gz", "steam_games.json.gz"))
        return DownloadPlan("steam", files, "Steam (Kang & McAuley, ICDM 2018): research use.")
    if key == "yelp":
        files = (
            RemoteFile("https://www.yelp.com/dataset", "yelp_academic_dataset_review.json"),
            RemoteFile("https://www.yelp.com/dataset", "yelp_academic_dataset_business.json"),
        )
        note = (
            "Yelp has no direct download: accept the terms at https://www.yelp.com/dataset, download the "
            "JSON archive and extract the two files below (or use the processed Yelp.txt + "
            "yelp_item_categories.tsv)."
        )
        return DownloadPlan("yelp", files, note, manual=True)
    raise DataError(
        f"no download for dataset '{name}'; known: beauty, sports, toys, amazon-<Category>, "
        "amazon2023-<Category>[-last_out|-timestamp], ml1m, ml100k, steam, yelp"
    )


def manual_instructions(plan: DownloadPlan, root: Path, missing: list[RemoteFile] | None = None) -> str:
    files = plan.files if missing is None else missing
    lines = [f"place these files for '{plan.dataset}' by hand in {root.resolve()}/:"]
    lines += [
        f"  {f.name}  <- {f.url}" + (" (unzip its files into that folder)" if f.unzip else "") for f in files
    ]
    return "\n".join(lines + ([plan.note] if plan.note else []))


def _check_digest(path: Path, digest: str | None) -> None:
    if digest is None:
        return
    algorithm, expected = digest.split(":", 1)
    h = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            h.update(block)
    if h.hexdigest() != expected:
        path.unlink()
        raise DataError(
            f"{path}: {algorithm} {h.hexdigest()} != published {expected}; removed it, download again"
        )


def _fetch_one(
    remote: RemoteFile, dest: Path, opener: Callable[..., Any], timeout: float, progress: Progress | None
) -> None:
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(remote.url, headers={"Range": f"bytes={start}-"} if start else {})
    with opener(request, timeout=timeout) as response:
        resumed = start > 0 and getattr(response, "status", 200) == 206
        done = start if resumed else 0
        length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
        total = done + int(length) if length else None
        with part.open("ab" if resumed else "wb") as handle:
            while block := response.read(CHUNK):
                handle.write(block)
                done += len(block)
                if progress is not None:
                    progress(dest.name, done, total)
    _check_digest(part, remote.digest)
    part.replace(dest)


def _unzip(archive: Path, root: Path) -> None:
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            if member.is_dir():
                continue
            target = root / Path(member.filename).name  # flat: ml-1m/ratings.dat -> root/ratings.dat
            target.write_bytes(bundle.read(member))


def fetch(
    plan: DownloadPlan,
    root: Path,
    opener: Callable[..., Any] | None = None,
    timeout: float = 20.0,
    progress: Progress | None = None,
) -> list[Path]:
    """Download every file of ``plan`` not yet in ``root``; a DataError (with the manual steps) offline.
    ``opener`` defaults to :func:`urllib.request.urlopen` (tests pass a fake one)."""
    root, opener = Path(root), opener or urllib.request.urlopen
    missing = [f for f in plan.files if not (root / f.name).is_file()]
    if plan.manual:
        if missing:
            raise DataError(manual_instructions(plan, root, missing))
        return [root / f.name for f in plan.files]
    root.mkdir(parents=True, exist_ok=True)
    for remote in missing:
        (root / remote.name).parent.mkdir(parents=True, exist_ok=True)  # Amazon 2023: the server's folders
        try:
            _fetch_one(remote, root / remote.name, opener, timeout, progress)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            left = [f for f in plan.files if not (root / f.name).is_file()]
            raise DataError(
                f"cannot download {remote.url} ({error}); offline? " + manual_instructions(plan, root, left)
            ) from None
    for remote in plan.files:
        if remote.unzip:
            _unzip(root / remote.name, root)
    return [root / f.name for f in plan.files]
