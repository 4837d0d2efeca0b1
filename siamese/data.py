"""MNIST as tensors resident on the training device, plus the train/validation split.

The whole set is four uint8 tensors (60,000 + 10,000 images of 28x28: 55 MB); batches are
gathered by index on the device, so no Dataset or DataLoader sits in the training loop.
"""
from __future__ import annotations

import fcntl
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

DEFAULT_DATA_DIR = "data"
NUM_CLASSES = 10  # the digits 0-9
ARCHIVES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


class DataUnavailableError(RuntimeError):
    """MNIST is not on disk and could not be downloaded."""


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


def load_mnist(
    data_dir=None, device="cpu", val_size: int = 5000, seed: int = 0, download: bool = True
) -> MNIST:
    """Load MNIST (downloading it into `data_dir` if needed) and split off a validation set.

    The split is a seeded permutation of the training set, so every run with the same
    `val_size` and `seed` holds out the same images.
    """
    from torchvision.datasets import MNIST as TorchMNIST  # torchvision is only needed here

    root = resolve_data_dir(data_dir)
    # With the four archives on disk, torchvision's "download" only verifies and extracts them
    # (no network), so extraction is allowed even when downloading is not.
    download = download or all((root / "MNIST" / "raw" / f).exists() for f in ARCHIVES)
    try:
        with _extraction_lock(root):
            tr = TorchMNIST(str(root), train=True, download=download)
            te = TorchMNIST(str(root), train=False, download=download)
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
