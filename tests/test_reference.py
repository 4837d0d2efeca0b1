"""siamese.reference (the page's MNIST context): hand-checked on a stub model, then on the real
checkpoint and test set."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from siamese.reference import Reference

from .helpers import StubComparator


def four_digits():
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    images[:, 0, :2] = torch.tensor([[0, 0], [0, 1], [5, 0], [5, 1]], dtype=torch.uint8)
    labels = torch.tensor([0, 0, 1, 1])
    return Reference(StubComparator(), images, labels)


def test_pairs_split_by_class():
    ref = four_digits()
    # Each image's only same-class partner is 1 away; every different pair is 5 or sqrt(26).
    assert np.allclose(ref.same_distances, 1.0) and len(ref.same_distances) == 4
    assert len(ref.different_distances) == 4
    assert all(d in (pytest.approx(5.0), pytest.approx(26 ** 0.5)) for d in ref.different_distances)


def test_confusion_at_counts_the_fixed_pairs():
    ref = four_digits()
    assert ref.confusion_at(2.0)["accuracy"] == 1.0
    c = ref.confusion_at(0.5)  # everything called different
    assert c["accuracy"] == 0.5 and c["tp"] == 0 and c["tn"] == 4


def test_nearest_by_hand():
    ref = four_digits()
    q = np.zeros((1, 28, 28), np.float32)
    q[0, 0, :2] = [5.0, 0.2]
    (nn,) = ref.nearest(q, k=3)
    assert [n.index for n in nn] == [2, 3, 0]
    assert [n.label for n in nn] == [1, 1, 0]
    assert [n.distance for n in nn] == pytest.approx([0.2, 0.8, (25 + 0.04) ** 0.5])
    assert nn[0].image.shape == (28, 28) and nn[0].image.dtype == np.uint8
    assert len(ref.nearest(q, k=10)[0]) == 4  # k is capped at the set's size


def test_histogram_is_a_density():
    ref = four_digits()
    edges, same, diff = ref.histogram(0.0, 6.0, bins=12)
    width = edges[1] - edges[0]
    assert len(edges) == 13 and (same.sum() * width) == pytest.approx(1) and (diff.sum() * width) == pytest.approx(1)
    assert same[2] > 0 and diff[10] > 0  # 1.0 falls in bin 2, 5.0..5.1 in bin 10
    lo, hi = ref.distance_range(0, 100)
    assert lo == pytest.approx(1.0) and hi == pytest.approx(26 ** 0.5)


@pytest.mark.integration
def test_real_reference_matches_the_checkpoint(comparator, data_root):
    ref = Reference.from_data_dir(comparator, data_root)
    assert len(ref) == 10_000 and len(ref.same_distances) == len(ref.different_distances) == 10_000
    # The same fixed pairs as the checkpoint's metrics (bf16 embedding may move a pair or two).
    acc = ref.confusion_at(comparator.threshold)["accuracy"]
    assert acc == pytest.approx(comparator.metrics["pair_accuracy"], abs=1e-3)
    # A test digit's neighbours are mostly its own class.
    q = ref.images[:20].float().numpy() / 255.0
    hits = [np.mean([n.label == int(ref.labels[i]) for n in nn]) for i, nn in enumerate(ref.nearest(q, k=8))]
    assert np.mean(hits) > 0.9
    d = [n.distance for n in ref.nearest(q[:1], k=8)[0]]
    assert d == sorted(d)
