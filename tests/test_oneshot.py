"""siamese.oneshot: a verifier as a classifier, worked out by hand on a stub model whose
descriptors are pixels."""
from __future__ import annotations

import math

import pytest
import torch

from siamese import oneshot as O

from .helpers import StubComparator, stub_reference


def test_class_references_one_per_class_seeded():
    labels = torch.tensor([c for c in range(10) for _ in range(5)])
    refs = O.class_references(labels, seed=3)
    assert [int(labels[i]) for i in refs] == list(range(10))
    assert refs == O.class_references(labels, seed=3)
    assert any(O.class_references(labels, seed=s) != refs for s in range(4, 8))
    with pytest.raises(ValueError):
        O.class_references(torch.tensor([0, 1]), seed=0)


def test_one_shot_ranking_by_hand():
    cmp = StubComparator()
    refs = torch.tensor([[0.0, 0, 0], [3.0, 4, 0], [1.0, 0, 0]])  # classes 0, 1, 2
    ranked = O.one_shot_ranking(cmp, torch.tensor([1.0, 0, 0]), refs, [0, 1, 2])
    assert [r.label for r in ranked] == [2, 0, 1]
    assert [r.distance for r in ranked] == pytest.approx([0.0, 1.0, math.sqrt(4 + 16)])
    assert ranked[0].same_probability == pytest.approx(1 / (1 + math.exp(-1)))


def test_one_shot_accuracy_stub_and_chunks():
    ref = stub_reference(per_class=4)
    # classes are 20 apart and items at most 3: every digit finds its class
    assert O.one_shot_accuracy(ref.comparator.distance, ref.embeddings, ref.labels) == 1.0
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(60, 3, generator=g)
    labels = torch.arange(10).repeat(6)
    whole = O.one_shot_accuracy(StubComparator().distance, emb, labels, chunk=1000)
    assert O.one_shot_accuracy(StubComparator().distance, emb, labels, chunk=7) == whole
    assert 0.0 <= whole <= 1.0
