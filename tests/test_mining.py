"""In-batch mining (siamese/mining.py), worked out by hand on 1-D descriptors."""
import pytest
import torch

from siamese.losses import triplet_loss
from siamese.mining import hard_partners, mine, pairwise_distances, semihard_partners
from siamese.pairs import partners

# Five items on a line: digit 0 at 0, 1 and 4; digit 1 at 2 and 10.
EMB = torch.tensor([[0.0], [1.0], [4.0], [2.0], [10.0]])
LABELS = torch.tensor([0, 0, 0, 1, 1])


def test_pairwise_distances():
    d = pairwise_distances(EMB)
    assert d.shape == (5, 5)
    assert d[0, 2].item() == pytest.approx(4.0) and d[3, 4].item() == pytest.approx(8.0)
    assert torch.allclose(d, d.T) and torch.allclose(d.diagonal(), torch.zeros(5), atol=1e-5)


def test_hard_partners_farthest_positive_closest_negative():
    pos, neg, pos_ok, neg_ok = hard_partners(EMB, LABELS)
    # item 0 (at 0): positives at 1, 4 -> farthest is item 2; negatives at 2, 10 -> closest item 3
    # item 1 (at 1): positives 0 (d 1), 4 (d 3) -> item 2; negatives 2 (d 1), 10 -> item 3
    # item 2 (at 4): positives 0 (d 4), 1 (d 3) -> item 0; negatives 2 (d 2), 10 (d 6) -> item 3
    # item 3 (at 2): its one positive is item 4; negatives 0 (d 2), 1 (d 1), 4 (d 2) -> item 1
    # item 4 (at 10): positive item 3; closest negative is item 2 (d 6)
    assert pos.tolist() == [2, 2, 0, 4, 3]
    assert neg.tolist() == [3, 3, 3, 1, 2]
    assert pos_ok.all() and neg_ok.all()


def test_hard_partners_flag_missing_kinds():
    pos, neg, pos_ok, neg_ok = hard_partners(torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([0, 0, 1]))
    assert pos_ok.tolist() == [True, True, False]  # digit 1 is alone
    assert neg_ok.all()
    _, _, _, neg_ok = hard_partners(torch.tensor([[0.0], [1.0]]), torch.tensor([4, 4]))
    assert not neg_ok.any()  # one digit only: no negatives


def test_semihard_takes_the_closest_negative_beyond_the_positive():
    gen = torch.Generator().manual_seed(0)
    pos, neg, pos_ok, neg_ok = semihard_partners(EMB, LABELS, gen)
    # the positives are partners()' random ones, for the same generator state
    ref_pos, _, _, _ = partners(LABELS, torch.Generator().manual_seed(0))
    assert pos.tolist() == ref_pos.tolist()
    d = pairwise_distances(EMB)
    for i in range(5):
        d_ap = d[i, pos[i]]
        negs = [j for j in range(5) if LABELS[j] != LABELS[i]]
        farther = [j for j in negs if d[i, j] > d_ap]
        want = min(farther, key=lambda j: d[i, j]) if farther else max(negs, key=lambda j: d[i, j])
        assert neg[i].item() == want, i


def test_semihard_by_hand():
    # anchor 0 at 0 with its only positive (item 1) at 3: negatives at 1 (closer than the
    # positive), 5 and 8 -> the closest one farther than 3 is item 3 (at 5)
    emb = torch.tensor([[0.0], [3.0], [1.0], [5.0], [8.0]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    pos, neg, _, _ = semihard_partners(emb, labels)
    assert pos[0].item() == 1 and neg[0].item() == 3
    # anchor 1 at 3 (positive at 0, d 3): negatives at d 2, 2, 5 -> item 4 (at 8)
    assert neg[1].item() == 4
    # when every negative is closer than the positive, the farthest negative
    emb = torch.tensor([[0.0], [9.0], [1.0], [2.0]])
    pos, neg, _, _ = semihard_partners(emb, torch.tensor([0, 0, 1, 1]))
    assert neg[0].item() == 3


def test_hard_triplet_loss_by_hand():
    pos, neg, pos_ok, neg_ok = hard_partners(EMB, LABELS)
    # per anchor d(a,p) - d(a,n) + 1: 4-2+1=3, 3-1+1=3, 4-2+1=3, 8-1+1=8, 8-6+1=3 -> mean 4
    loss = triplet_loss(EMB, EMB[pos], EMB[neg], margin=1.0, valid=pos_ok & neg_ok)
    assert loss.item() == pytest.approx(4.0, rel=1e-5)


def test_mine_dispatches_and_refuses_unknown():
    gen = torch.Generator().manual_seed(3)
    got = mine("random", EMB, LABELS, gen, 2)
    want = partners(LABELS, torch.Generator().manual_seed(3), num_classes=2)
    assert all(torch.equal(g, w) for g, w in zip(got, want))
    assert mine("hard", EMB, LABELS)[0].tolist() == [2, 2, 0, 4, 3]
    with pytest.raises(ValueError):
        mine("nearest", EMB, LABELS)


def test_mining_does_not_touch_the_gradient():
    emb = EMB.clone().requires_grad_()
    pos, neg, _, _ = hard_partners(emb, LABELS)
    assert not pos.requires_grad
    triplet_loss(emb, emb[pos], emb[neg], 1.0).backward()
    assert torch.isfinite(emb.grad).all()
