"""siamese.data: leaving digits out of the splits a model learns and is calibrated on, and
fetching MNIST (torchvision's mirrors or the Hugging Face Hub's parquet files; no network here:
the Hub's download is a stand-in, its parquet layout is built from a few real MNIST digits)."""
import io

import pytest
import torch
from PIL import Image

from siamese import data
from siamese.data import MNIST, DataUnavailableError, Split, load_mnist, split_from_pngs, write_idx


def _split(labels):
    labels = torch.tensor(labels)
    return Split(labels.to(torch.uint8).view(-1, 1, 1).expand(-1, 28, 28).clone(), labels)


def test_split_without_drops_those_digits_in_order():
    s = _split([0, 7, 1, 8, 9, 2])
    kept = s.without((7, 8, 9))
    assert kept.labels.tolist() == [0, 1, 2]
    assert kept.images[:, 0, 0].tolist() == [0, 1, 2]  # images travel with their labels
    assert s.without(()) is s


def test_mnist_excluding_leaves_test_and_gallery_whole():
    data = MNIST(_split([0, 7, 1]), _split([8, 2, 9]), _split([7, 8, 9, 0]), _split([0, 7, 1, 8, 2, 9]))
    ex = data.excluding((7, 8, 9))
    assert ex.train.labels.tolist() == [0, 1] and ex.val.labels.tolist() == [2]
    assert ex.test is data.test and ex.full_train is data.full_train
    assert data.excluding(()) is data


# -- fetching MNIST ------------------------------------------------------------------------------------
def _pngs(split: Split) -> list[bytes]:
    out = []
    for img in split.images.numpy():
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")  # mode L, as the Hub's ylecun/mnist stores them
        out.append(buf.getvalue())
    return out


@pytest.fixture
def few(mnist):
    """A few real MNIST digits: 12 training images and 6 test images."""
    return Split(mnist.full_train.images[:12].clone(), mnist.full_train.labels[:12].clone()), \
        Split(mnist.test.images[:6].clone(), mnist.test.labels[:6].clone())


def _same(a: Split, b: Split) -> bool:
    return a.images.dtype == b.images.dtype == torch.uint8 and torch.equal(a.images, b.images) \
        and torch.equal(a.labels, b.labels) and a.labels.dtype == torch.int64


def test_pngs_become_the_uint8_images_torchvision_gives(few):
    train, _ = few
    assert _same(split_from_pngs(_pngs(train), train.labels.numpy()), train)
    with pytest.raises(ValueError, match="labels"):
        split_from_pngs(_pngs(train), train.labels.numpy()[:3])


def test_the_hubs_parquet_layout_is_read_as_torchvision_reads_mnist(few, tmp_path):
    import pyarrow as pa  # in requirements.txt: the Hub's MNIST is parquet
    import pyarrow.parquet as pq
    train, _ = few
    # As `datasets` writes an Image feature and a ClassLabel: image {bytes, path}, label int64.
    image = pa.array([{"bytes": b, "path": None} for b in _pngs(train)],
                     type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    path = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(pa.table({"image": image, "label": pa.array(train.labels.tolist(), pa.int64())}), path,
                   row_group_size=5)  # several row groups, as a 60,000-row file has
    assert _same(data.split_from_parquet(path), train)


def test_written_idx_files_load_as_mnist(few, tmp_path):
    train, test = few
    write_idx(train, tmp_path / "MNIST" / "raw", "train")
    write_idx(test, tmp_path / "MNIST" / "raw", "t10k")
    got = load_mnist(tmp_path, download=False, val_size=4)
    assert _same(got.full_train, train) and _same(got.test, test)
    assert len(got.val) == 4 and len(got.train) == 8
    assert data.require_mnist(tmp_path) == tmp_path


@pytest.fixture
def offline_hub(monkeypatch, few):
    """The Hub's MNIST without a network: hf_hub_download hands out names, and each "parquet
    file" is read as the few digits (split_from_parquet's own test reads a real one)."""
    import huggingface_hub

    calls, train, test = [], *few
    fake = {data.HUB_FILES["train"]: train, data.HUB_FILES["t10k"]: test}

    def hf_hub_download(repo_id, filename, **kw):
        calls.append((repo_id, filename, kw))
        return filename

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    monkeypatch.setattr(data, "split_from_parquet", lambda path: fake[path])
    monkeypatch.delenv(data.SOURCE_ENV, raising=False)
    return calls


def _refuse(root):
    raise OSError("HTTP Error 403: Forbidden")


def test_a_space_fetches_mnist_from_the_hub_once_and_says_so(offline_hub, few, monkeypatch, tmp_path):
    monkeypatch.setenv("SPACE_ID", "teacher/siamese-digits")
    monkeypatch.setitem(data.FETCHERS, "torchvision", lambda root: pytest.fail("tried torchvision first"))
    steps = []
    got = load_mnist(tmp_path, download=True, val_size=4, progress=steps.append)
    assert steps == ["hub", "reading"]
    assert _same(got.full_train, few[0]) and _same(got.test, few[1])
    assert {(r, f) for r, f, _ in offline_hub} == {("ylecun/mnist", f) for f in data.HUB_FILES.values()}
    assert all(kw == {"repo_type": "dataset", "revision": data.HUB_REVISION} for *_, kw in offline_hub)
    steps.clear()
    load_mnist(tmp_path, download=True, val_size=4, progress=steps.append)  # on disk now: no fetch
    assert steps == ["reading"] and len(offline_hub) == 2


def test_elsewhere_torchvision_comes_first_and_the_hub_when_its_mirrors_fail(offline_hub, few, monkeypatch,
                                                                              tmp_path):
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setitem(data.FETCHERS, "torchvision", _refuse)
    steps = []
    got = load_mnist(tmp_path, download=True, val_size=4, progress=steps.append)
    assert steps == ["torchvision", "hub", "reading"] and _same(got.test, few[1])


def test_when_every_source_fails_the_error_names_each(monkeypatch, tmp_path):
    monkeypatch.setitem(data.FETCHERS, "torchvision", _refuse)
    monkeypatch.setitem(data.FETCHERS, "hub", lambda root: (_ for _ in ()).throw(ModuleNotFoundError("pyarrow")))
    with pytest.raises(DataUnavailableError) as e:
        load_mnist(tmp_path, download=True)
    assert "torchvision's mirrors: OSError: HTTP Error 403" in str(e.value)
    assert "the Hugging Face Hub (ylecun/mnist): ModuleNotFoundError: pyarrow" in str(e.value)


def test_without_download_nothing_is_fetched(monkeypatch, tmp_path):
    for source in data.SOURCES:
        monkeypatch.setitem(data.FETCHERS, source, lambda root: pytest.fail("fetched"))
    with pytest.raises(DataUnavailableError):
        load_mnist(tmp_path, download=False)


@pytest.mark.parametrize("space, choice, order", [
    (None, None, ("torchvision", "hub")),
    ("teacher/siamese-digits", None, ("hub", "torchvision")),
    ("teacher/siamese-digits", "torchvision", ("torchvision",)),
    (None, "hub", ("hub",)),
    (None, "auto", ("torchvision", "hub")),
])
def test_mnist_sources(space, choice, order, monkeypatch):
    for name, value in (("SPACE_ID", space), (data.SOURCE_ENV, choice)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert data.mnist_sources() == order
