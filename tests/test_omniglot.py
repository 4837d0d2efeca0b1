"""siamese.omniglot: archives, dedupe, the cache and the runs' answers, on tiny archives built
here; then the real archives (copied from ../shared by conftest)."""
from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
import torch
from PIL import Image, ImageDraw

from siamese import omniglot as O
from siamese.data import DataUnavailableError


def png(kind: int, side: int = 30) -> bytes:
    """A black-on-white drawing: kind 0 a horizontal bar, 1 a vertical bar, 2 a diagonal."""
    img = Image.new("L", (side, side), 255)
    d = ImageDraw.Draw(img)
    d.line([(5, 15, 25, 15), (15, 5, 15, 25), (5, 5, 25, 25)][kind % 3], fill=0, width=3)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_zip(path, files: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# Two tiny "minimal sets": both hold Greek (identical copies), each one alphabet of its own.
SET1 = {"Greek/character01/0394_01.png": png(0), "Greek/character01/0394_02.png": png(0),
        "Aramaic/character01/0100_01.png": png(1), "Aramaic/character01/0100_02.png": png(1)}
SET2 = {"Greek/character01/0394_01.png": png(0), "Greek/character01/0394_02.png": png(0),
        "Tagalog/character01/0900_01.png": png(2), "Tagalog/character02/0901_02.png": png(1)}


def test_merge_keeps_one_copy_of_identical_files_and_refuses_different_ones():
    merged = O.merge_archives([SET1, SET2])
    assert list(merged) == sorted(set(SET1) | set(SET2)) and len(merged) == 6
    with pytest.raises(ValueError, match="differs"):
        O.merge_archives([SET1, {"Greek/character01/0394_01.png": png(2)}])


def test_background_labels_alphabets_and_drawers_by_hand():
    d = O.background_from_files(O.merge_archives([SET1, SET2]))
    # sorted paths: Aramaic/c01 (2 drawings), Greek/c01 (2), Tagalog/c01 (1), Tagalog/c02 (1)
    assert d["alphabet_names"] == ["Aramaic", "Greek", "Tagalog"]
    assert d["character_names"] == ["Aramaic/character01", "Greek/character01", "Tagalog/character01",
                                    "Tagalog/character02"]
    assert d["labels"].tolist() == [0, 0, 1, 1, 2, 3]
    assert d["alphabets"].tolist() == [0, 0, 1, 1, 2, 2]
    assert d["drawers"].tolist() == [1, 2, 1, 2, 1, 2]
    images = d["images"]
    assert images.shape == (6, 28, 28) and images.dtype == torch.uint8
    # white on black now (to_mnist): the vertical bar (Aramaic) is tall and thin
    col, row = images[0].float().sum(0), images[0].float().sum(1)
    assert images[0, 0, 0] == 0 and images[0].max() == 255
    assert (col > 0).sum() < (row > 0).sum()
    with pytest.raises(ValueError, match="unexpected"):
        O.background_from_files({"Greek/readme.png": png(0)})


def test_parse_answers_by_hand():
    refs = ["training/class01.png", "training/class02.png", "training/class03.png"]
    queries = ["test/item01.png", "test/item02.png", "test/item03.png"]
    text = ("run07/test/item02.png run07/training/class01.png\n"
            "run07/test/item01.png run07/training/class03.png\n"
            "run07/test/item03.png run07/training/class02.png\n\n")
    assert O.parse_answers(text, "run07", refs, queries) == [2, 0, 1]
    with pytest.raises(ValueError, match="exactly"):
        O.parse_answers(text.splitlines()[0], "run07", refs, queries)
    with pytest.raises(ValueError, match="not there"):
        O.parse_answers(text.replace("class02", "class09"), "run07", refs, queries)
    with pytest.raises(ValueError, match="twice"):
        O.parse_answers(text + text, "run07", refs, queries)


def tiny_runs_zip(path):
    files = {}
    for run, order in (("run01", (1, 0)), ("run02", (0, 1))):  # test item i is of class order[i]
        for c in range(2):
            files[f"{run}/training/class0{c + 1}.png"] = png(c)
            files[f"{run}/test/item0{c + 1}.png"] = png(order[c])
        files[f"{run}/class_labels.txt"] = "".join(
            f"{run}/test/item0{i + 1}.png {run}/training/class0{order[i] + 1}.png\n" for i in range(2)).encode()
    return write_zip(path, files)


def test_runs_from_a_tiny_zip(tmp_path):
    d = O.runs_from_zip(tiny_runs_zip(tmp_path / "runs.zip"))
    assert d["names"] == ["run01", "run02"]
    assert d["references"].shape == d["queries"].shape == (2, 2, 28, 28)
    assert d["answers"].tolist() == [[1, 0], [0, 1]]
    # run01's first query is class 2's drawing: the same image as its second reference
    assert torch.equal(d["queries"][0, 0], d["references"][0, 1])


@pytest.fixture
def tiny_archives(tmp_path, monkeypatch):
    """The tiny sets as the data dir's background archives (their own md5s)."""
    folder = tmp_path / "omniglot"
    folder.mkdir()
    table = {}
    for name, files in (("small1.zip", SET1), ("small2.zip", SET2)):
        path = write_zip(folder / name, {f"images_{name[:-4]}/{k}": v for k, v in files.items()})
        table[name] = (name, md5(path))
    monkeypatch.setattr(O, "BACKGROUND", table)
    return tmp_path


def test_background_is_cached_and_rebuilt_when_preprocessing_changes(tiny_archives, monkeypatch):
    first = O.load_background(tiny_archives, download=False)
    assert len(first) == 6 and first.alphabet_names == ("Aramaic", "Greek", "Tagalog")
    cached = list((tiny_archives / "omniglot" / "cache").glob("background-*.pt"))
    assert len(cached) == 1

    def no_preprocessing(image):
        raise AssertionError("a cached load must not preprocess")

    monkeypatch.setattr(O.preprocess, "to_mnist", no_preprocessing)
    again = O.load_background(tiny_archives, download=False)
    assert torch.equal(again.images, first.images) and again.character_names == first.character_names
    # another cache version (as a change to the decoding or to preprocess.py makes) misses it
    monkeypatch.setattr(O, "CACHE_VERSION", O.CACHE_VERSION + 1)
    with pytest.raises(AssertionError, match="must not preprocess"):
        O.load_background(tiny_archives, download=False)


def test_missing_or_altered_archives_are_data_unavailable(tiny_archives, monkeypatch):
    archive = tiny_archives / "omniglot" / "small1.zip"
    data = archive.read_bytes()
    archive.write_bytes(data + b"x")
    with pytest.raises(DataUnavailableError, match="md5"):
        O.load_background(tiny_archives, download=False)
    archive.unlink()
    with pytest.raises(DataUnavailableError, match="missing"):
        O.load_background(tiny_archives, download=False)

    # allowed to download: torchvision's download_url fetches (here: writes) and checks the md5
    calls = []

    def fake_download(url, root, filename, md5):
        calls.append(url)
        (tiny_archives / "omniglot" / filename).write_bytes(data)

    import torchvision.datasets.utils as U

    monkeypatch.setattr(U, "download_url", fake_download)
    assert len(O.load_background(tiny_archives, download=True)) == 6
    assert calls == [O.URL + "small1.zip"]

    def offline(url, root, filename, md5):
        raise OSError("Name or service not known")

    archive.unlink()
    monkeypatch.setattr(U, "download_url", offline)
    with pytest.raises(DataUnavailableError, match="could not download"):
        O.load_background(tiny_archives, download=True)


# -- the real archives --------------------------------------------------------------------------
def test_real_background_sets(omniglot):
    assert omniglot.images.shape == (4840, 28, 28) and omniglot.images.dtype == torch.uint8
    assert omniglot.alphabet_names == O.BACKGROUND_ALPHABETS
    assert len(omniglot.character_names) == 242
    counts = torch.bincount(omniglot.labels)
    assert (counts == 20).all()  # every character drawn by 20 people, once each after dedupe
    chars_per_alphabet = torch.bincount(omniglot.character_alphabets()).tolist()
    assert dict(zip(omniglot.alphabet_names, chars_per_alphabet)) == {
        "Balinese": 24, "Early_Aramaic": 22, "Greek": 24, "Japanese_(katakana)": 47, "Korean": 40, "Latin": 26,
        "Sanskrit": 42, "Tagalog": 17}
    assert omniglot.drawers.min() == 1 and omniglot.drawers.max() == 20
    # white on black in to_mnist's 20-pixel box: the top row is empty but where the centre of
    # mass pushed the box against it
    assert (omniglot.images[:, 0].amax(1) == 0).float().mean() > 0.95
    assert omniglot.images.float().mean() > 10


def test_real_runs(omniglot_root):
    runs = O.load_runs(omniglot_root, download=False)
    assert [r.name for r in runs] == [f"run{i:02d}" for i in range(1, 21)]
    for r in runs:
        assert r.references.shape == r.queries.shape == (20, 28, 28)
        assert sorted(r.answers.tolist()) == list(range(20))  # each class asked once
    assert runs[0].answers[:3].tolist() == [7, 8, 1]  # item01 -> class08, item02 -> class09, item03 -> class02
