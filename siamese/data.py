"""MNIST as tensors resident on the training device, plus the train/validation split.

The whole set is four uint8 tensors (60,000 + 10,000 images of 28x28: 55 MB); batches are
gathered by index on the device, so no Dataset or DataLoader sits in the training loop.

On disk it is torchvision's layout (<data_dir>/MNIST/raw). When it is missing, `load_mnist`
fetches it from one of two sources (`mnist_sources`): torchvision's mirrors, or the Hugging
Face Hub's copy (the dataset ylecun/mnist, parquet files of PNGs), which is written out in the
same layout. A Hugging Face Space (SPACE_ID set) tries the Hub first: its disk is not kept
between restarts, so it fetches MNIST on every start, and the Hub is next door.
"""
from __future__ import annotations

import fcntl
import io
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_DATA_DIR = "data"
NUM_CLASSES = 10  # the digits 0-9
ARCHIVES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
SIDE = 28  # MNIST digits are 28 x 28

# The Hub's MNIST: converted from the original files by the dataset's former loading script
# (same images, same order); pinned to the commit that added the parquet files.
HUB_DATASET = "ylecun/mnist"
HUB_REVISION = "77f3279092a1c1579b2250db8eafed0ad422088c"
HUB_FILES = {"train": "mnist/train-00000-of-00001.parquet", "t10k": "mnist/test-00000-of-00001.parquet"}
SOURCE_ENV = "SIAMESE_MNIST_SOURCE"  # hub | torchvision | auto (default)
SOURCES = {"hub": f"the Hugging Face Hub ({HUB_DATASET})", "torchvision": "torchvision's mirrors"}


class DataUnavailableError(RuntimeError):
    """A data set (MNIST, Omniglot) is not on disk and could not be downloaded."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else $SIAMESE_DATA_DIR, else ./data."""
    return Path(data_dir or os.environ.get("SIAMESE_DATA_DIR") or DEFAULT_DATA_DIR)


def require_mnist(data_dir=None) -> Path:
    """The MNIST root if its four files are there (archives or extracted), without reading
    them; else DataUnavailableError. For callers that must not trigger a download."""
    root = resolve_data_dir(data_dir)
    raw = root / "MNIST" / "raw"
    missing = [f for f in ARCHIVES if not (raw / f).exists() and not (raw / f[:-3]).exists()]
    if missing:
        raise DataUnavailableError(f"MNIST is not available under {root} (missing {', '.join(missing)})")
    return root


@dataclass
class Split:
    images: torch.Tensor  # (N, 28, 28) uint8, white digit on black
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device) -> "Split":
        return Split(self.images.to(device), self.labels.to(device))

    def subset(self, idx: torch.Tensor) -> "Split":
        idx = idx.to(self.labels.device)
        return Split(self.images[idx], self.labels[idx])

    def without(self, digits) -> "Split":
        """This split minus every image of `digits` (order kept); itself when there are none."""
        if not len(digits):
            return self
        drop = torch.isin(self.labels, torch.tensor(list(digits), device=self.labels.device))
        return self.subset(torch.nonzero(~drop).squeeze(1))


@dataclass
class MNIST:
    train: Split  # the training set minus the validation images
    val: Split  # held out of training; the decision threshold is chosen here, never on test
    test: Split
    full_train: Split  # all 60,000 training images: the gallery for nearest neighbours

    def excluding(self, digits) -> "MNIST":
        """The data a model trained without `digits` may use: those digits leave the training
        and validation splits (the threshold is chosen on seen digits only). The test set keeps
        every digit, to score the unseen ones; full_train stays whole (a nearest-neighbour
        gallery for evaluation, never trained on)."""
        if not len(digits):
            return self
        return MNIST(self.train.without(digits), self.val.without(digits), self.test, self.full_train)


@contextmanager
def _extraction_lock(root: Path):
    """Serialise torchvision's extract-then-read: two loaders at once (the page's reference
    thread and a retrain, or two processes) would otherwise read half-written files.
    flock on a file of our own works across threads and processes alike."""
    if not root.exists() and not root.parent.exists():
        yield  # nothing can be extracted there; torchvision will say it is not found
        return
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".siamese-mnist.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# -- fetching it ------------------------------------------------------------------------------
def mnist_sources() -> tuple[str, ...]:
    """Where a missing MNIST is fetched from, in order (keys of SOURCES): $SIAMESE_MNIST_SOURCE
    ("hub" or "torchvision": that one alone), else on a Hugging Face Space the Hub first,
    elsewhere torchvision's mirrors first (the Hub when they fail)."""
    choice = os.environ.get(SOURCE_ENV, "auto").strip().lower()
    if choice in SOURCES:
        return (choice,)
    return ("hub", "torchvision") if os.environ.get("SPACE_ID") else ("torchvision", "hub")


def split_from_pngs(pngs, labels) -> Split:
    """MNIST digits stored as PNG bytes (the Hub's parquet rows) -> a Split as torchvision's
    files give it: (N, 28, 28) uint8 images, white on black, and int64 labels."""
    from PIL import Image

    images = np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("L")) for b in pngs]) if len(pngs) else \
        np.zeros((0, SIDE, SIDE), np.uint8)
    if images.shape[1:] != (SIDE, SIDE):
        raise ValueError(f"not MNIST digits: images of {images.shape[1:]}")
    labels = torch.as_tensor(np.asarray(labels, np.int64))
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return Split(torch.from_numpy(images), labels)


def split_from_parquet(path) -> Split:
    """One of the Hub's MNIST parquet files (columns image: {bytes, path}, label) -> a Split."""
    import pyarrow.parquet as pq  # requirements.txt; only this route needs it

    table = pq.read_table(path, columns=["image", "label"])
    pngs = table.column("image").combine_chunks().field("bytes").to_pylist()
    return split_from_pngs(pngs, table.column("label").to_numpy())


def write_idx(split: Split, raw: Path, prefix: str) -> None:
    """Write a Split as the two uncompressed IDX files torchvision reads (<prefix>-images-idx3-
    ubyte, <prefix>-labels-idx1-ubyte), each to a temporary name and renamed into place."""
    n = len(split)
    files = {f"{prefix}-images-idx3-ubyte": (0x803, (n, SIDE, SIDE), split.images),
             f"{prefix}-labels-idx1-ubyte": (0x801, (n,), split.labels)}
    raw.mkdir(parents=True, exist_ok=True)
    for name, (magic, dims, data) in files.items():
        header = np.array([magic, *dims], dtype=">i4").tobytes()  # big-endian magic, then sizes
        tmp = raw / f".{name}.tmp"
        tmp.write_bytes(header + data.to(torch.uint8).contiguous().numpy().tobytes())
        tmp.replace(raw / name)


def _from_hub(root: Path) -> None:
    from huggingface_hub import hf_hub_download  # installed with gradio

    for prefix, filename in HUB_FILES.items():
        path = hf_hub_download(HUB_DATASET, filename, repo_type="dataset", revision=HUB_REVISION)
        write_idx(split_from_parquet(path), root / "MNIST" / "raw", prefix)


def _from_torchvision(root: Path) -> None:
    from torchvision.datasets import MNIST as TorchMNIST

    for train in (True, False):
        TorchMNIST(str(root), train=train, download=True)


FETCHERS: dict[str, Callable[[Path], None]] = {"hub": _from_hub, "torchvision": _from_torchvision}


def fetch_mnist(root: Path, sources=None, progress: Callable[[str], None] | None = None) -> str:
    """Fetch MNIST into root (torchvision's layout), trying `sources` (default `mnist_sources()`)
    in turn; progress(source) before each. Returns the source that worked; raises
    DataUnavailableError naming what each one said."""
    errors = []
    for source in sources or mnist_sources():
        if progress is not None:
            progress(source)
        try:
            FETCHERS[source](root)
            return source
        except Exception as e:  # a network error, a 403 mirror, a missing package: try the next
            errors.append(f"{SOURCES[source]}: {type(e).__name__}: {str(e)[:200]}")
    raise DataUnavailableError(f"MNIST could not be fetched into {root} ({'; '.join(errors)})")


def _on_disk(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    return all((raw / f).exists() or (raw / f[:-3]).exists() for f in ARCHIVES)


def load_mnist(
    data_dir=None, device="cpu", val_size: int = 5000, seed: int = 0, download: bool = True,
    progress: Callable[[str], None] | None = None,
) -> MNIST:
    """Load MNIST (fetching it into `data_dir` if needed, see `fetch_mnist`) and split off a
    validation set. progress(step): called with a key of SOURCES before each fetch, and with
    "reading" before the files are read.

    The split is a seeded permutation of the training set, so every run with the same
    `val_size` and `seed` holds out the same images.
    """
    from torchvision.datasets import MNIST as TorchMNIST  # torchvision is only needed here

    root = resolve_data_dir(data_dir)
    try:
        with _extraction_lock(root):
            if download and not _on_disk(root):
                fetch_mnist(root, progress=progress)
            if progress is not None:
                progress("reading")
            # With the four archives on disk, torchvision's "download" only verifies and extracts
            # them (no network), so extraction is allowed even when downloading is not.
            extract = all((root / "MNIST" / "raw" / f).exists() for f in ARCHIVES)
            tr = TorchMNIST(str(root), train=True, download=extract)
            te = TorchMNIST(str(root), train=False, download=extract)
    except DataUnavailableError:
        raise
    except (RuntimeError, OSError, ValueError) as e:  # RuntimeError: "not found"; others: bad files
        raise DataUnavailableError(f"MNIST is not available under {root}: {e}") from e
    full = Split(tr.data.contiguous(), tr.targets.long())
    test = Split(te.data.contiguous(), te.targets.long())
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(full), generator=g)
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    return MNIST(
        train=full.subset(train_idx).to(device),
        val=full.subset(val_idx).to(device),
        test=test.to(device),
        full_train=full.to(device),
    )


def random_affine(x: torch.Tensor, generator: torch.Generator | None = None,
                  degrees: float = 10.0, scale: float = 0.1, shift: float = 2.0,
                  rows: tuple[int, int] | None = None) -> torch.Tensor:
    """Jitter a batch (N, 1, 28, 28) by a small random rotation, scale and shift, on its device.

    Drawn digits are never as tidy as MNIST's; this teaches the towers to shrug that off.
    rows=(start, batch): x is rows start..start+N of a batch of `batch` images. The jitter is
    drawn for the whole batch (the generator advances as it would for it) and x gets its rows'
    share, so each data-parallel rank jitters its shard exactly as one process jitters the batch.
    """
    n = x.shape[0]
    start, batch = rows or (0, n)
    r = torch.rand(batch, 4, device=x.device, generator=generator)[start : start + n]
    r = r * 2 - 1  # (N, 4) in [-1, 1]
    ang = r[:, 0] * math.radians(degrees)
    s = 1.0 + r[:, 1] * scale
    tx, ty = r[:, 2] * shift / 14.0, r[:, 3] * shift / 14.0  # affine_grid works in [-1, 1]
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
