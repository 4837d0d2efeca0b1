"""Shared fixtures. MNIST comes from ./data (git-ignored); if it is missing there, the four
official archives are copied in from ../shared/data (never written to). Under CI=true a missing
MNIST fails the run instead of skipping tests."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "checkpoints" / "siamese_mnist.pt"
ARCHIVES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def mnist_root() -> Path | None:
    """The MNIST root for tests, or None when MNIST cannot be had."""
    root = Path(os.environ.get("SIAMESE_DATA_DIR") or ROOT / "data")
    raw = root / "MNIST" / "raw"
    if all((raw / f).exists() or (raw / f[:-3]).exists() for f in ARCHIVES):
        return root
    shared = ROOT.parent / "shared" / "data" / "MNIST" / "raw"
    if all((shared / f).exists() for f in ARCHIVES):
        raw.mkdir(parents=True, exist_ok=True)
        for f in ARCHIVES:
            shutil.copyfile(shared / f, raw / f)
        return root
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = mnist_root()
    if root is None:
        msg = "MNIST archives not found in ./data/MNIST/raw or ../shared/data/MNIST/raw"
        if IN_CI:
            pytest.fail(msg + " (CI=true: integration tests must not be skipped)")
        pytest.skip(msg)
    return root


@pytest.fixture(scope="session")
def mnist(data_root):
    from siamese.data import load_mnist

    return load_mnist(data_root, "cpu")


@pytest.fixture(scope="session")
def comparator():
    from siamese import Comparator

    return Comparator.from_checkpoint(CHECKPOINT)
