"""Omniglot (Lake, Salakhutdinov & Tenenbaum 2015) as MNIST-format tensors: the two "minimal"
background sets to train and validate on, and the 20 one-shot runs to test on (never to train
or tune on).

The archives live in `<data dir>/omniglot/` (`siamese.data.resolve_data_dir`); missing ones are
downloaded from the data set's repository when allowed, and every archive's md5 is checked.
Each 105x105 black-on-white drawing goes through `siamese.preprocess.to_mnist`, as a drawing on
the page does, into a (28, 28) uint8 white-on-black image. That takes seconds, so the result is
cached beside the archives, keyed by the archives' md5 and the preprocessing code: a change to
either rebuilds it, and later loads take milliseconds.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import preprocess
from .data import DataUnavailableError, resolve_data_dir

URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/"
# archive -> (path under URL, md5)
BACKGROUND = {
    "images_background_small1.zip": ("images_background_small1.zip", "e704a628b5459e08445c13499850abc4"),
    "images_background_small2.zip": ("images_background_small2.zip", "b75a71a51d3b13f821f212756fe481fd"),
}
RUNS = {"all_runs.zip": ("one-shot-classification/all_runs.zip", "e8996daecdf12afeeb4a53a179f06b19")}
# The alphabets of the two minimal sets together (both hold Greek and Latin: 242 characters).
BACKGROUND_ALPHABETS = ("Balinese", "Early_Aramaic", "Greek", "Japanese_(katakana)", "Korean", "Latin",
                        "Sanskrit", "Tagalog")
CACHE_VERSION = 1  # bump when the decoding below changes (preprocess.py changes are seen by hash)


@dataclass
class Omniglot:
    """The background characters, deduplicated, in (alphabet, character, drawer) order."""

    images: torch.Tensor  # (N, 28, 28) uint8, white on black (to_mnist)
    labels: torch.Tensor  # (N,) int64 character id, 0..C-1
    alphabets: torch.Tensor  # (N,) int64 alphabet id, index into alphabet_names
    drawers: torch.Tensor  # (N,) int64, 1..20: who drew it (the file name's suffix)
    alphabet_names: tuple[str, ...]  # (A,) sorted
    character_names: tuple[str, ...]  # (C,) "Greek/character01"

    def __len__(self) -> int:
        return len(self.labels)

    def character_alphabets(self) -> torch.Tensor:
        """(C,) the alphabet id of each character."""
        out = torch.zeros(len(self.character_names), dtype=torch.long)
        out[self.labels] = self.alphabets
        return out


@dataclass
class OneShotRun:
    """One of the 20 runs: 20-way within-alphabet one-shot, one drawing of each of 20
    characters as references and another drawer's drawing of each as queries."""

    name: str  # "run01"
    references: torch.Tensor  # (20, 28, 28) uint8: training/class01..class20
    queries: torch.Tensor  # (20, 28, 28) uint8: test/item01..item20
    answers: torch.Tensor  # (20,) int64: for each query, the position of its class's reference


# -- archives -----------------------------------------------------------------------------------
def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_archives(archives: dict, data_dir=None, download: bool = True) -> list[Path]:
    """The archives' paths under `<data dir>/omniglot/`, each md5-checked; missing ones are
    downloaded first when `download`. DataUnavailableError when one is missing (and may not or
    cannot be downloaded) or is not the published file."""
    folder = resolve_data_dir(data_dir) / "omniglot"
    paths = []
    for name, (url_path, md5) in archives.items():
        path = folder / name
        if not path.exists():
            if not download:
                raise DataUnavailableError(f"Omniglot archive {path} is missing (download it from {URL + url_path})")
            from torchvision.datasets.utils import download_url  # checks the md5 after download

            try:
                download_url(URL + url_path, str(folder), name, md5)
            except Exception as e:  # URLError, OSError, RuntimeError("File not found or corrupted.")
                raise DataUnavailableError(f"could not download Omniglot's {name} from {URL + url_path}: {e}") from e
        if _md5(path) != md5:
            raise DataUnavailableError(f"{path} is not Omniglot's published {name} (md5 differs from {md5})")
        paths.append(path)
    return paths


def read_pngs(path: Path) -> dict[str, bytes]:
    """A zip's PNG files by path inside the archive, minus its top folder
    ("images_background_small1/Greek/character01/0394_01.png" -> "Greek/character01/0394_01.png")."""
    with zipfile.ZipFile(path) as z:
        return {n.split("/", 1)[1]: z.read(n) for n in z.namelist() if n.endswith(".png") and "/" in n}


def merge_archives(listings: list[dict[str, bytes]]) -> dict[str, bytes]:
    """Several archives' files as one, sorted by path. A path in more than one (the minimal
    sets both hold Greek and Latin) must have the same bytes everywhere; ValueError if not."""
    merged: dict[str, bytes] = {}
    for files in listings:
        for rel, data in files.items():
            if rel in merged and merged[rel] != data:
                raise ValueError(f"{rel} differs between the Omniglot archives")
            merged[rel] = data
    return dict(sorted(merged.items()))


_DRAWING = re.compile(r"^([^/]+)/([^/]+)/\d+_(\d+)\.png$")  # alphabet/character/NNNN_DD.png


def _to_uint8(png: bytes) -> np.ndarray:
    """A PNG drawing -> (28, 28) uint8, white on black, through the one preprocessing path."""
    return np.round(preprocess.to_mnist(png) * 255).astype(np.uint8)


# -- the cache ----------------------------------------------------------------------------------
def _cache_key(archives: dict) -> str:
    """Of the archives' md5 (checked by fetch_archives), the preprocessing code and CACHE_VERSION."""
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for _, md5 in archives.values():
        h.update(md5.encode())
    h.update(Path(preprocess.__file__).read_bytes())  # any change to to_mnist invalidates
    return h.hexdigest()[:16]


def _cached(folder: Path, prefix: str, key: str, build) -> dict:
    """The dict `build()` makes, from `folder/prefix-key.pt` when there; else built, written
    atomically (stale files of the same prefix removed) and returned."""
    path = folder / "cache" / f"{prefix}-{key}.pt"
    if path.exists():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a truncated or foreign file: rebuild it
            pass
    out = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(out, f)
        os.replace(tmp, path)  # two first loads at once both write; either file is whole
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in path.parent.glob(f"{prefix}-*.pt"):
        if old != path:
            old.unlink(missing_ok=True)
    return out


# -- the background set -------------------------------------------------------------------------
def background_from_files(files: dict[str, bytes]) -> dict:
    """Drawings by path ("alphabet/character/NNNN_DD.png") -> the tensors of `Omniglot`, as a
    dict (what the cache holds)."""
    alphabets, characters = sorted({p.split("/")[0] for p in files}), []
    images, labels, alph, drawers = [], [], [], []
    for rel, data in sorted(files.items()):
        m = _DRAWING.match(rel)
        if m is None:
            raise ValueError(f"unexpected file {rel} in an Omniglot background archive")
        character = f"{m.group(1)}/{m.group(2)}"
        if not characters or characters[-1] != character:
            characters.append(character)
        images.append(_to_uint8(data))
        labels.append(len(characters) - 1)
        alph.append(alphabets.index(m.group(1)))
        drawers.append(int(m.group(3)))
    return {"images": torch.from_numpy(np.stack(images)), "labels": torch.tensor(labels),
            "alphabets": torch.tensor(alph), "drawers": torch.tensor(drawers),
            "alphabet_names": alphabets, "character_names": characters}


def load_background(data_dir=None, download: bool = True) -> Omniglot:
    """The two minimal background sets, merged (8 alphabets, 242 characters, 4,840 drawings)."""
    paths = fetch_archives(BACKGROUND, data_dir, download)

    def build():
        return background_from_files(merge_archives([read_pngs(p) for p in paths]))

    d = _cached(paths[0].parent, "background", _cache_key(BACKGROUND), build)
    return Omniglot(d["images"], d["labels"], d["alphabets"], d["drawers"], tuple(d["alphabet_names"]),
                    tuple(d["character_names"]))


# -- the 20 runs --------------------------------------------------------------------------------
def parse_answers(text: str, run: str, references: list[str], queries: list[str]) -> list[int]:
    """class_labels.txt of one run ("run01/test/item01.png run01/training/class08.png" a line)
    -> for each query file (in `queries` order), the position of its reference in `references`.
    ValueError unless every query has exactly one answer among the references."""
    answer: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        query, ref = (p.removeprefix(f"{run}/") for p in line.split())
        if query in answer:
            raise ValueError(f"{run}: {query} is answered twice")
        answer[query] = ref
    if sorted(answer) != sorted(queries):
        raise ValueError(f"{run}: class_labels.txt does not answer exactly the test items")
    try:
        return [references.index(answer[q]) for q in queries]
    except ValueError:
        raise ValueError(f"{run}: class_labels.txt names a reference that is not there") from None


def runs_from_zip(path: Path) -> dict:
    """all_runs.zip -> {"names": [R], "references", "queries": (R, 20, 28, 28) uint8,
    "answers": (R, 20) int64} (what the cache holds)."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        runs = sorted({n.split("/")[0] for n in names if n.endswith("/class_labels.txt")})
        refs, queries, answers = [], [], []
        for run in runs:
            train = sorted(n.removeprefix(f"{run}/") for n in names if n.startswith(f"{run}/training/")
                           and n.endswith(".png"))
            test = sorted(n.removeprefix(f"{run}/") for n in names if n.startswith(f"{run}/test/")
                          and n.endswith(".png"))
            answers.append(parse_answers(z.read(f"{run}/class_labels.txt").decode(), run, train, test))
            refs.append(np.stack([_to_uint8(z.read(f"{run}/{f}")) for f in train]))
            queries.append(np.stack([_to_uint8(z.read(f"{run}/{f}")) for f in test]))
    return {"names": runs, "references": torch.from_numpy(np.stack(refs)),
            "queries": torch.from_numpy(np.stack(queries)), "answers": torch.tensor(answers)}


def load_runs(data_dir=None, download: bool = True) -> list[OneShotRun]:
    """The 20 one-shot runs: a test set only, never to train or tune on."""
    paths = fetch_archives(RUNS, data_dir, download)
    d = _cached(paths[0].parent, "runs", _cache_key(RUNS), lambda: runs_from_zip(paths[0]))
    return [OneShotRun(name, r, q, a) for name, r, q, a in
            zip(d["names"], d["references"], d["queries"], d["answers"])]

