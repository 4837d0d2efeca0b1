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


def test_one_shot_accuracy_among_some_classes_and_queries():
    # 1-D descriptors, two items per class: 7 at 70, 71; 8 at 79, 81; 9 at 90, 91; 0 at 77, 77.5
    emb = torch.tensor([[70.0], [71.0], [79.0], [81.0], [90.0], [91.0], [77.0], [77.5]])
    labels = torch.tensor([7, 7, 8, 8, 9, 9, 0, 0])
    dist = StubComparator().distance
    unseen = labels >= 7
    # 3-way among 7, 8, 9: each item's own-class reference is its twin, nearer than any other
    assert O.one_shot_accuracy(dist, emb[unseen], labels[unseen], classes=(7, 8, 9)) == 1.0
    # with 0 a candidate too, the 8 at 79 is nearer a 0 (77 or 77.5: 2 or 1.5 away; a tie goes to
    # the first class) than the other 8 (2 away): 5 of the 6 queries of 7-9 right
    assert O.one_shot_accuracy(dist, emb, labels, classes=(0, 7, 8, 9), queries=unseen) == pytest.approx(5 / 6)
    # the mask scores only its rows: the two 0s find each other
    assert O.one_shot_accuracy(dist, emb, labels, classes=(0, 7, 8, 9), queries=~unseen) == 1.0
