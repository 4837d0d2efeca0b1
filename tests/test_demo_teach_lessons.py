"""demo.teach.lessons: each part computed once per model, right by hand on a stub model whose
descriptors are pixels, and held weakly."""
from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from demo.teach.lessons import Lessons
from siamese.pairs import fixed_pairs
from siamese.projection import map_features

from .helpers import stub_images, stub_reference


def test_lessons_compute_once_and_match_the_reference():
    ref = stub_reference(per_class=5)
    les = Lessons.of(ref, sample_per_class=2)
    emap = les.map("pca")
    assert emap is les.map("pca") and les.has("map:pca")
    assert len(emap.labels) == 20 and sorted(np.bincount(emap.labels)) == [2] * 10
    assert emap.columns.tolist() == [0, 1]  # the third pixel is 0 for every digit: dropped
    a, b = les.pairs()
    a2, b2, _ = fixed_pairs(ref.labels, 0)
    assert torch.equal(a, a2) and torch.equal(b, b2)
    r = les.roc()
    assert r.auc == pytest.approx(1.0)  # classes 20 apart, same pairs at most 4
    far, close = les.worst_pairs(3)
    assert far[0].distance <= close[0].distance
    assert les.one_shot_accuracy() == 1.0
    assert les.memo("x", lambda: [1]) is les.memo("x", lambda: [2])


def test_lessons_prefer_the_checkpoint_one_shot_accuracy():
    ref = stub_reference(metrics={"one_shot_accuracy": 0.25})  # kept: Lessons hold it weakly
    assert Lessons.of(ref).one_shot_accuracy() == 0.25


def test_lessons_tsne_map_places_points_among_their_class():
    ref = stub_reference(per_class=8)
    les = Lessons.of(ref, sample_per_class=8)
    emap = les.map("tsne")
    assert emap.method == "tsne" and emap.pca is None
    f = map_features(ref.comparator, ref.comparator.embed(stub_images([[60, 2, 0]])))  # a 3
    assert emap.labels[emap.nearest(f, 3)[0]].tolist() == [3, 3, 3]
    with pytest.raises(ValueError):
        les.map("umap")


def test_lessons_hold_their_reference_weakly():
    ref = stub_reference()
    les = Lessons.of(ref)
    les.roc()
    del ref
    gc.collect()
    with pytest.raises(RuntimeError, match="gone"):
        les.map("pca")
