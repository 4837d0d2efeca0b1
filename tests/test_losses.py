"""Loss values worked out by hand on tiny tensors."""
import math

import pytest
import torch

from siamese import losses as L
from siamese.losses import bce_loss, contrastive_loss, distance, supcon_loss, triplet_loss


def t(x):
    return torch.tensor(x, dtype=torch.float32)


def test_distance_is_euclidean():
    assert distance(t([[0.0, 0.0]]), t([[3.0, 4.0]])).item() == pytest.approx(5.0)


def test_distance_has_finite_gradient_at_zero():
    a = t([[1.0, 2.0]]).requires_grad_()
    distance(a, t([[1.0, 2.0]])).sum().backward()
    assert torch.isfinite(a.grad).all()


def test_bce_uninformative_logits_cost_two_ln2():
    # one positive and one negative pair, both with logits (0, 0): ln 2 each, summed
    loss = bce_loss(t([[0.0, 0.0], [0.0, 0.0]]), t([1.0, 0.0]))
    assert loss.item() == pytest.approx(2 * math.log(2))


def test_bce_is_mean_over_positives_plus_mean_over_negatives():
    ln3 = math.log(3)
    logits = t([[0.0, ln3],    # same pair, p(same) = 3/4 -> -ln(3/4)
                [0.0, 0.0],    # same pair, p(same) = 1/2 -> ln 2
                [ln3, 0.0]])   # different pair, p(diff) = 3/4 -> -ln(3/4)
    expected = (-math.log(0.75) + math.log(2)) / 2 + -math.log(0.75)
    assert bce_loss(logits, t([1.0, 1.0, 0.0])).item() == pytest.approx(expected, rel=1e-6)


def test_contrastive_by_hand():
    a = t([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    b = t([[1.0, 0.0],   # same, d = 1 -> d^2 = 1
           [0.5, 0.0],   # different, d = 0.5 < margin 2 -> (2 - 0.5)^2 = 2.25
           [3.0, 0.0]])  # different, d = 3 > margin -> 0
    loss = contrastive_loss(a, b, t([1.0, 0.0, 0.0]), margin=2.0)
    assert loss.item() == pytest.approx(1.0 + (2.25 + 0.0) / 2)


def test_triplet_by_hand():
    anchor = t([[0.0, 0.0], [0.0, 0.0]])
    pos = t([[1.0, 0.0], [0.0, 2.0]])   # d(a, p) = 1, 2
    neg = t([[0.0, 3.0], [1.0, 0.0]])   # d(a, n) = 3, 1
    # max(1 - 3 + 1, 0) = 0 and max(2 - 1 + 1, 0) = 2 -> mean 1
    assert triplet_loss(anchor, pos, neg, margin=1.0).item() == pytest.approx(1.0)


def test_valid_mask_drops_pairs_without_indexing():
    logits = t([[0.0, 0.0], [5.0, -5.0], [0.0, 0.0]])
    same = t([1.0, 1.0, 0.0])
    masked = bce_loss(logits, same, valid=torch.tensor([True, False, True]))
    assert masked.item() == pytest.approx(2 * math.log(2))
    anchor, pos, neg = t([[0.0], [0.0]]), t([[5.0], [1.0]]), t([[1.0], [5.0]])
    assert triplet_loss(anchor, pos, neg, 1.0, valid=torch.tensor([False, True])).item() == 0.0


def test_supcon_by_hand():
    # items 0 and 1 (digit 0) point the same way, item 2 (digit 1) at right angles: cosines
    # s01 = 1, s02 = s12 = 0. Anchor 0: -log(e^(1/t) / (e^(1/t) + e^0)) = log(1 + e^(-1/t)); anchor
    # 1 the same; anchor 2 has no positive and adds nothing.
    emb = t([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])  # any length: the loss normalises
    labels = torch.tensor([0, 0, 1])
    assert supcon_loss(emb, labels, temperature=1.0).item() == pytest.approx(math.log(1 + math.exp(-1)))
    assert supcon_loss(emb, labels, temperature=0.5).item() == pytest.approx(math.log(1 + math.exp(-2)))


def test_supcon_averages_over_each_anchors_positives():
    # anchor 0 has two positives (1 and 2) at cosines 1 and 0, and a negative (3) at cosine 0:
    # -(log(e / (e + 2)) + log(1 / (e + 2))) / 2; anchors 1..3 worked out the same way below.
    emb = t([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 0, 1])
    e = math.e
    a0 = -(math.log(e / (e + 2)) + math.log(1 / (e + 2))) / 2
    a1 = a0  # item 1 sees the same as item 0
    a2 = -(math.log(1 / (2 + e)) * 2) / 2  # item 2: cosines 0, 0 to its positives, 1 to item 3
    loss = supcon_loss(emb, labels, temperature=1.0)  # item 3 has no positive
    assert loss.item() == pytest.approx((a0 + a1 + a2) / 3, rel=1e-6)


def test_supcon_has_a_gradient_and_no_positive_means_zero():
    emb = torch.randn(4, 3, requires_grad=True)
    supcon_loss(emb, torch.tensor([0, 0, 1, 1])).backward()
    assert torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0
    assert supcon_loss(torch.randn(3, 2), torch.tensor([0, 1, 2])).item() == 0.0


def test_all_pairs_loss_weighs_same_and_different_pairs_equally():
    # three items, labels 0, 0, 1: pairs (0,1) same, (0,2) and (1,2) different
    labels = torch.tensor([0, 0, 1])
    dist = torch.tensor([[0.0, 0.5, 2.0], [0.5, 0.0, 0.25], [2.0, 0.25, 0.0]])
    # contrastive, margin 1: same pair d^2 = 0.25; different: (1-2)+^2 = 0 and (1-0.25)^2 = 0.5625
    got = L.all_pairs_loss(dist, labels, "contrastive", margin=1.0)
    assert got.item() == pytest.approx(0.25 + (0.0 + 0.5625) / 2)
    # bce on logit differences: softplus(-x) for the same pair, softplus(x) for different ones
    logit = torch.tensor([[0.0, 2.0, -1.0], [2.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    got = L.all_pairs_loss(logit, labels, "bce")
    assert got.item() == pytest.approx(sp(-2.0) + (sp(-1.0) + sp(0.0)) / 2)


def test_distance_matrix_is_euclidean_with_a_finite_gradient_at_zero():
    e = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]], requires_grad=True)
    d = L.distance_matrix(e)
    assert d[0, 1].item() == pytest.approx(5.0) and d[0, 2].item() == pytest.approx(0.0, abs=1e-5)
    d[0, 2].backward()
    assert torch.isfinite(e.grad).all()
