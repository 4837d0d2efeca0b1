"""Pair and triplet samplers: class correctness, balance, determinism."""
import pytest
import torch

from siamese.pairs import batch_pairs, batch_triplets, fixed_pairs, one_shot_references, partners, split_pairs

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


# -- pairs by split, for a model trained without some digits -------------------------------------
# digits 0, 1 seen; 7, 8 unseen; two items of each
SPLIT_LABELS = torch.tensor([0, 7, 1, 8, 0, 7, 1, 8])
UNSEEN = (7, 8)


def test_split_pairs_keep_each_split_to_its_digits():
    pairs = split_pairs(SPLIT_LABELS, UNSEEN, seed=0)
    assert set(pairs) == {"seen", "unseen", "mixed"}
    for split, (a, b, same) in pairs.items():
        la, lb = SPLIT_LABELS[a], SPLIT_LABELS[b]
        assert ((la == lb).float() == same).all(), split  # the labels are right
        unseen_a, unseen_b = torch.isin(la, torch.tensor(UNSEEN)), torch.isin(lb, torch.tensor(UNSEEN))
        if split == "seen":
            assert not unseen_a.any() and not unseen_b.any()
        elif split == "unseen":
            assert unseen_a.all() and unseen_b.all()
        else:  # anchored on unseen items: a same pair stays unseen, a different one is seen
            assert unseen_a.all() and (unseen_b == (same == 1)).all()


def test_split_pairs_by_hand():
    a, b, same = split_pairs(SPLIT_LABELS, UNSEEN, seed=0)["unseen"]
    # 4 unseen items (positions 1, 3, 5, 7), each once with its one same-digit partner (the
    # other item of its digit: no choice) and once with an item of the other unseen digit
    assert len(a) == 8 and same.tolist() == [1.0] * 4 + [0.0] * 4
    assert a[:4].tolist() == [1, 3, 5, 7] and b[:4].tolist() == [5, 7, 1, 3]
    assert a[4:].tolist() == [1, 3, 5, 7]
    a, b, same = split_pairs(SPLIT_LABELS, UNSEEN, seed=0)["seen"]
    assert a[:4].tolist() == [0, 2, 4, 6] and b[:4].tolist() == [4, 6, 0, 2]
    a, b, same = split_pairs(SPLIT_LABELS, UNSEEN, seed=0)["mixed"]
    assert same.tolist() == [1.0] * 4 + [0.0] * 4
    assert b[:4].tolist() == [5, 7, 1, 3] and set(b[4:].tolist()) <= {0, 2, 4, 6}


def test_split_pairs_are_balanced_and_disjoint_by_item():
    labels = torch.arange(1000) % 10
    pairs = split_pairs(labels, (7, 8, 9), seed=0)
    (sa, sb, ss), (ua, ub, us), (ma, mb, ms) = pairs["seen"], pairs["unseen"], pairs["mixed"]
    assert len(sa) == 1400 and ss.sum() == 700  # 700 seen items, one same and one different each
    assert len(ua) == 600 and us.sum() == 300
    assert len(ma) == 600 and ms.sum() == 300
    seen_items = set(sa.tolist()) | set(sb.tolist())
    unseen_items = set(ua.tolist()) | set(ub.tolist())
    assert not seen_items & unseen_items
    assert torch.equal(torch.sort(ua[:300]).values, torch.nonzero(labels >= 7).squeeze(1))


def test_split_pairs_are_fixed_by_seed():
    labels = torch.arange(300) % 10
    one, again, other = (split_pairs(labels, (7, 8, 9), seed=s) for s in (0, 0, 1))
    for split in ("seen", "unseen", "mixed"):
        assert all(torch.equal(x, y) for x, y in zip(one[split], again[split]))
    assert not torch.equal(one["unseen"][1], other["unseen"][1])


def test_split_pairs_one_unseen_digit_has_no_different_unseen_pairs():
    labels = torch.tensor([0, 1, 9, 9, 9, 0, 1])
    pairs = split_pairs(labels, (9,), seed=0)
    assert pairs["unseen"][2].tolist() == [1.0, 1.0, 1.0]  # only same pairs: AUC undefined
    assert pairs["mixed"][2].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_one_shot_references_among_given_classes():
    labels = torch.arange(100) % 10
    refs = one_shot_references(labels, seed=0, classes=(7, 8, 9))
    assert refs.shape == (100, 3)
    assert (labels[refs] == torch.tensor([7, 8, 9])).all()
    assert (refs != torch.arange(100).unsqueeze(1)).all()
    # the default (every class) draws exactly what it drew before the option existed
    assert torch.equal(one_shot_references(labels, seed=0), one_shot_references(labels, seed=0, classes=range(10)))


def test_draw_episodes_by_hand():
    """Group 0: classes 0, 1, 2 by drawers 1 and 2 (and class 0 by drawer 3 too); group 1:
    classes 3, 4 by drawers 1 and 2. 2-way: the groups take turns; each episode's references
    are one drawer's drawings, its queries the other's, class for class."""
    from siamese.pairs import draw_episodes

    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    drawers = torch.tensor([1, 2, 3, 1, 2, 1, 2, 1, 2, 1, 2])
    groups = torch.tensor([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    refs, queries = draw_episodes(labels, groups, drawers, count=4, way=2, seed=0)
    assert refs.shape == queries.shape == (4, 2)
    for e in range(4):
        r, q = refs[e], queries[e]
        assert torch.equal(labels[r], labels[q])  # query j: reference j's class
        assert len(set(labels[r].tolist())) == 2  # two different classes
        assert set(groups[r].tolist()) == {e % 2}  # within one group, the groups in turn
        assert len(set(drawers[r].tolist())) == 1 and len(set(drawers[q].tolist())) == 1
        assert drawers[r[0]] != drawers[q[0]]  # two drawers: one draws the references
    assert set(labels[refs[1]].tolist()) == {3, 4}
    again = draw_episodes(labels, groups, drawers, count=4, way=2, seed=0)
    assert torch.equal(again[0], refs) and torch.equal(again[1], queries)  # fixed by the seed
    # 3-way: only group 0 has three classes
    refs3, _ = draw_episodes(labels, groups, drawers, count=2, way=3, seed=1)
    assert set(labels[refs3].flatten().tolist()) == {0, 1, 2}
    with pytest.raises(ValueError, match="4-way"):
        draw_episodes(labels, groups, drawers, count=1, way=4)
    with pytest.raises(ValueError, match="two drawers"):  # one drawer each: no pair of drawers
        draw_episodes(torch.tensor([0, 1]), torch.tensor([0, 0]), torch.tensor([1, 2]), count=1, way=2)


def test_class_batches_draw_k_distinct_items_of_p_classes():
    from siamese.pairs import ClassBatches

    labels = torch.tensor([0] * 5 + [1] * 3 + [2] + [3] * 4)  # class 2 has one item: never drawn at K = 3
    batches = ClassBatches(labels, per_class=3)
    assert batches.classes.tolist() == [0, 1, 3]
    g = torch.Generator().manual_seed(0)
    seen_classes, seen_items = set(), set()
    for _ in range(60):
        idx = batches(2, g)
        assert idx.shape == (6,) and len(set(idx.tolist())) == 6  # distinct items
        per_class = labels[idx].view(2, 3)
        assert (per_class == per_class[:, :1]).all() and per_class[0, 0] != per_class[1, 0]
        seen_classes |= set(per_class[:, 0].tolist())
        seen_items |= set(idx.tolist())
    assert seen_classes == {0, 1, 3} and seen_items == set(range(13)) - {8}
    again = ClassBatches(labels, 3)(2, torch.Generator().manual_seed(5))
    assert torch.equal(again, ClassBatches(labels, 3)(2, torch.Generator().manual_seed(5)))  # seeded


def test_class_batches_draw_a_fixed_number_of_reserved_classes():
    from siamese.pairs import ClassBatches

    # digits 0-3 (5 drawings each) and characters 10-19 (4 each); digit 4 has one drawing only
    labels = torch.tensor([d for d in range(4) for _ in range(5)] + [4] + [c for c in range(10, 20) for _ in range(4)])
    cb = ClassBatches(labels, 2, reserved=range(10))
    assert cb.reserved.tolist() == [0, 1, 2, 3] and cb.classes.tolist() == list(range(10, 20))
    g = torch.Generator().manual_seed(0)
    for reserved, digits in ((2, 2), (9, 4), (0, 0)):  # at most as many as there are
        idx = cb(6, g, reserved=reserved)
        classes = labels[idx].reshape(6, 2)  # class by class, 2 drawings each, the reserved first
        assert (classes[:, 0:1] == classes).all() and len(idx.unique()) == 12
        assert (classes[:digits, 0] < 10).all() and (classes[digits:, 0] >= 10).all()
        assert len(classes[:, 0].unique()) == 6


def test_episode_pairs_by_hand():
    from siamese.pairs import episode_pairs

    refs, queries = torch.tensor([[0, 1, 2], [3, 4, 5]]), torch.tensor([[6, 7, 8], [9, 10, 11]])
    a, b, same = episode_pairs(refs, queries)
    assert a.tolist() == [0, 1, 2, 3, 4, 5] * 2
    # episode 0 pairs each reference with the query 1 place along, episode 1 with the one 2 along
    assert b.tolist() == [6, 7, 8, 9, 10, 11, 7, 8, 6, 11, 9, 10]
    assert same.tolist() == [1.0] * 6 + [0.0] * 6
