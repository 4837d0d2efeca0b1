"""Pair and triplet samplers: class correctness, balance, determinism."""
import torch

from siamese.pairs import batch_pairs, batch_triplets, fixed_pairs, one_shot_references, partners

LABELS = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0])


def test_partners_respect_classes_and_never_pick_self():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        pos, neg, pos_ok, neg_ok = partners(LABELS, g)
        assert pos_ok.all() and neg_ok.all()
        assert (LABELS[pos] == LABELS).all()
        assert (pos != torch.arange(len(LABELS))).all()
        assert (LABELS[neg] != LABELS).all()


def test_partners_cover_every_candidate():
    # item 2 (class 1) has positives {3, 4} and negatives {0, 1, 5, 6, 7}: all should turn up
    g = torch.Generator().manual_seed(1)
    seen_pos, seen_neg = set(), set()
    for _ in range(200):
        pos, neg, _, _ = partners(LABELS, g)
        seen_pos.add(int(pos[2]))
        seen_neg.add(int(neg[2]))
    assert seen_pos == {3, 4}
    assert seen_neg == {0, 1, 5, 6, 7}


def test_singleton_class_and_single_class_batches_are_flagged():
    _, _, pos_ok, neg_ok = partners(torch.tensor([0, 1, 1]))
    assert pos_ok.tolist() == [False, True, True] and neg_ok.all()
    _, _, pos_ok, neg_ok = partners(torch.tensor([3, 3, 3]))
    assert pos_ok.all() and not neg_ok.any()


def test_batch_pairs_are_balanced_and_labelled_right():
    labels = torch.randint(0, 10, (256,), generator=torch.Generator().manual_seed(0))
    a, b, same = batch_pairs(labels, torch.Generator().manual_seed(0))
    assert len(a) == 512 and same.sum() == 256
    assert ((labels[a] == labels[b]).float() == same).all()


def test_batch_triplets_pair_each_anchor_with_a_positive_and_a_negative():
    a, p, n = batch_triplets(LABELS, torch.Generator().manual_seed(0))
    assert len(a) == len(LABELS)
    assert (LABELS[a] == LABELS[p]).all() and (LABELS[a] != LABELS[n]).all()


def test_fixed_pairs_are_fixed_by_seed():
    labels = torch.arange(1000) % 10
    a1, b1, s1 = fixed_pairs(labels, seed=0)
    a2, b2, s2 = fixed_pairs(labels, seed=0)
    _, b3, _ = fixed_pairs(labels, seed=1)
    assert torch.equal(a1, a2) and torch.equal(b1, b2) and torch.equal(s1, s2)
    assert not torch.equal(b1, b3)
    assert len(a1) == 2000 and s1.sum() == 1000  # each item once same, once different
    assert torch.equal(torch.sort(a1[:1000]).values, torch.arange(1000))


def test_one_shot_references_one_per_class_never_self():
    labels = torch.arange(200) % 10
    refs = one_shot_references(labels, seed=0)
    assert refs.shape == (200, 10)
    assert (labels[refs] == torch.arange(10)).all()
    assert (refs != torch.arange(200).unsqueeze(1)).all()
