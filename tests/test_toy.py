"""siamese.toy: the three losses on three 2-D points, values and gradients worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from siamese import toy

A, P, N = (0.0, 0.0), (3.0, 4.0), (0.6, 0.8)  # d(A, P) = 5, d(A, N) = 1


def test_toy_contrastive_by_hand():
    t = toy.toy_losses([A, P, N], "contrastive", margin=2.0)
    assert t.value == pytest.approx(25 + 1)  # d_ap^2 + (m - d_an)^2
    assert (t.d_ap, t.d_an) == (pytest.approx(5.0), pytest.approx(1.0))
    # pull: d/dA |A - P|^2 = 2 (A - P); push: d/dN (m - |N - A|)^2 = -2 (m - d) (N - A) / d
    assert np.allclose(t.pull, [[-6, -8], [6, 8], [0, 0]], atol=1e-5)
    assert np.allclose(t.push, [[1.2, 1.6], [0, 0], [-1.2, -1.6]], atol=1e-5)
    assert np.allclose(t.grads, t.pull + t.push, atol=1e-6)
    far = toy.toy_losses([A, P, (0, 3)], "contrastive", margin=2.0)  # N beyond the margin
    assert far.terms["push"] == 0 and np.allclose(far.push, 0)


def test_toy_triplet_by_hand():
    t = toy.toy_losses([A, P, N], "triplet", margin=2.0)
    assert t.value == pytest.approx(5 - 1 + 2)
    # d/dA (d_ap - d_an) = (A - P)/5 - (A - N)/1 = (-0.6, -0.8) + (0.6, 0.8) = 0
    assert np.allclose(t.grads, [[0, 0], [0.6, 0.8], [-0.6, -0.8]], atol=1e-5)
    assert np.allclose(t.grads, t.pull + t.push, atol=1e-6)
    easy = toy.toy_losses([A, N, P], "triplet", margin=2.0)  # P at 1, N at 5: satisfied by 4 > 2
    assert easy.value == 0 and np.allclose(easy.grads, 0) and easy.terms["violation"] == pytest.approx(-2)


def test_toy_bce_by_hand():
    t = toy.toy_losses([(0, 0), (1, 0), (0, 2)], "bce", margin=1.0)
    # p(A,P) = sigmoid(1 - 1) = 1/2, p(A,N) = sigmoid(1 - 4): loss = log 2 + log(1 + e^-3)
    assert t.value == pytest.approx(math.log(2) + math.log1p(math.exp(-3)), rel=1e-5)
    assert t.terms["p_same_AP"] == pytest.approx(0.5)
    s = 1 / (1 + math.exp(3))
    # -log sigmoid(z), z = m^2 - |A - P|^2: d/dP = -(1 - 1/2) * (-2 (P - A)) = (1, 0)
    assert np.allclose(t.pull, [[-1, 0], [1, 0], [0, 0]], atol=1e-5)
    # -log(1 - sigmoid(z)): d/dN = sigmoid(z) * (-2 (N - A)) = (0, -4 s)
    assert np.allclose(t.push, [[0, 4 * s], [0, 0], [0, -4 * s]], atol=1e-5)
    assert np.allclose(t.grads, t.pull + t.push, atol=1e-6)


def test_toy_step_descends():
    pts = np.array([[-0.7, 0.2], [1.0, 0.9], [-0.3, -0.35]], np.float32)
    for loss in ("bce", "contrastive", "triplet"):
        before = toy.toy_losses(pts, loss, 1.0)
        after = toy.toy_step(pts, loss, 1.0, lr=0.05)
        assert np.allclose(after, pts - 0.05 * before.grads)
        assert toy.toy_losses(after, loss, 1.0).value < before.value
    with pytest.raises(ValueError):
        toy.toy_losses(pts, "hinge")
