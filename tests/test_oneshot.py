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
    # log-odds 1 - d: 1, 0, 1 - sqrt(20); the confidences are their softmax
    z = 1 + math.exp(-1) + math.exp(-math.sqrt(20))
    assert [r.confidence for r in ranked] == pytest.approx([1 / z, math.exp(-1) / z, math.exp(-math.sqrt(20)) / z])


def test_match_confidence_is_bayes_with_one_match_among_the_references():
    # Two references with p(same) 0.9 and 0.5: odds 9 and 1, so 9 : 1 that the first is the match.
    logit = torch.logit(torch.tensor([0.9, 0.5], dtype=torch.float64))
    assert O.match_confidence(logit).tolist() == pytest.approx([0.9, 0.1])
    # log-odds far past float32's saturation of p still tell the references apart
    assert O.match_confidence(torch.tensor([40.0, 38.0])).tolist() == pytest.approx([1 / (1 + math.exp(-2)),
                                                                                       1 / (1 + math.exp(2))])


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


def test_episode_accuracy_by_hand():
    """1-D descriptors. Episode 0: references at 0, 10, 20, queries at 1, 12, 14 -> the query
    of class 2 (at 14) is nearer class 1's reference: 2 of 3. Episode 1: all right."""
    refs = torch.tensor([[[0.0], [10.0], [20.0]], [[0.0], [5.0], [9.0]]])
    queries = torch.tensor([[[1.0], [12.0], [14.0]], [[1.0], [5.5], [8.0]]])
    dist = StubComparator().distance
    acc = O.episode_accuracy(dist, refs, queries)
    assert acc.tolist() == pytest.approx([2 / 3, 1.0])
    assert O.episode_accuracy(dist, refs, queries, chunk=1).tolist() == acc.tolist()
    # answers: episode 0's queries given in another order (and one of them asked twice)
    answers = torch.tensor([[2, 0, 0, 1]])
    q = torch.tensor([[[19.0], [1.0], [4.0], [9.0]]])
    assert O.episode_accuracy(dist, refs[:1], q, answers).tolist() == [1.0]
    # Episodes: indices into one set of descriptors
    emb = torch.tensor([[0.0], [10.0], [1.0], [12.0], [30.0]])
    ep = O.Episodes(torch.zeros(5, 28, 28, dtype=torch.uint8), torch.tensor([[0, 1]]), torch.tensor([[2, 3]]))
    assert ep.way == 2 and ep.accuracy(dist, emb).tolist() == [1.0]


def test_runs_accuracy_and_rank_references_agree():
    """Two stand-in runs whose descriptors are pixels (StubComparator): run 1's second query
    lies nearer the wrong reference."""
    from types import SimpleNamespace

    from .helpers import stub_images

    def run(refs, queries, answers):
        return SimpleNamespace(references=stub_images([[v, 0, 0] for v in refs]),
                               queries=stub_images([[v, 0, 0] for v in queries]), answers=torch.tensor(answers))

    runs = [run([0, 50, 100], [98, 2, 52], [2, 0, 1]), run([0, 50, 100], [40, 30, 99], [1, 0, 2])]
    cmp = StubComparator()
    acc = O.runs_accuracy(cmp.embed, cmp.distance, runs)
    assert acc.tolist() == pytest.approx([1.0, 2 / 3])
    # the page's ranking for one query: the same winner the score counts
    ranked = O.rank_references(cmp, runs[1].queries[1], runs[1].references)
    assert [r.label for r in ranked] == [1, 0, 2]  # 30 is 20 from 50, 30 from 0, 70 from 100
    assert O.rank_references(cmp, runs[1].queries[1].numpy(), runs[1].references, [7, 8, 9])[0].label == 8
