"""The inference API with the shipped checkpoint, on real MNIST digits and synthetic drawings."""
import numpy as np
import pytest
import torch
from PIL import Image

from siamese import BlankImageError

from .helpers import draw

pytestmark = pytest.mark.integration


def digit(mnist, label, k=0):
    idx = torch.nonzero(mnist.test.labels == label).squeeze(1)[k]
    return mnist.test.images[idx].numpy()


def test_same_digit_twice_is_same(comparator, mnist):
    r = comparator.compare(digit(mnist, 7), digit(mnist, 7))
    # identical descriptors: every squared difference is 0, so p(same) = sigmoid(c), the head's
    # bias term (the blog head is more sure about two different 7s than about one 7 twice)
    assert r.same and r.distance == pytest.approx(0.0, abs=1e-4) and r.same_probability > 0.5
    assert r.image_a.shape == (28, 28) and r.threshold == comparator.threshold


def test_same_class_and_different_class(comparator, mnist):
    same = comparator.compare(digit(mnist, 3, 0), digit(mnist, 3, 1))
    diff = comparator.compare(digit(mnist, 3, 0), digit(mnist, 8, 0))
    assert same.same and not diff.same
    assert same.distance < diff.distance and same.same_probability > diff.same_probability
    assert same.to_dict().keys() == {"distance", "same_probability", "same", "threshold"}


def test_accepts_every_documented_input(comparator, mnist, tmp_path):
    a = digit(mnist, 5)
    path = tmp_path / "five.png"
    Image.fromarray(255 - a).save(path)  # dark on light, as a scan would be
    rgba = np.dstack([np.zeros_like(a)] * 3 + [a])  # black ink on transparency
    for other in (str(path), path, Image.fromarray(a), a.astype(np.float32) / 255,
                  np.stack([a] * 3, -1), rgba):
        r = comparator.compare(a, other)
        assert r.same, type(other)


def test_two_drawn_sevens_match_and_a_one_does_not(comparator):
    seven_a, seven_b = draw(), draw(points=[(0.15, 0.2), (0.85, 0.2), (0.5, 0.95)], width=20)
    one = draw(points=[(0.5, 0.1), (0.5, 0.9)])
    assert comparator.compare(seven_a, seven_b).same
    assert not comparator.compare(seven_a, one).same


def test_batches_embed_like_single_images_and_score_pairs(comparator, mnist):
    images = mnist.test.images[:6]  # (6, 28, 28) uint8, already MNIST format
    emb = comparator.embed(images)
    assert emb.shape == (6, 512) and emb.dtype == torch.float32
    via_to_mnist = np.stack([comparator.preprocess(im.numpy()) for im in images])
    assert torch.allclose(comparator.embed([im.numpy() for im in images]), comparator.embed(via_to_mnist))
    d = comparator.distance(emb[:3], emb[3:])
    p = comparator.same_probability(emb[:3], emb[3:])
    assert d.shape == p.shape == (3,) and ((0 <= p) & (p <= 1)).all()


def test_blank_input_is_a_clear_error(comparator, mnist):
    with pytest.raises(BlankImageError):
        comparator.compare(np.full((280, 280), 255, np.uint8), digit(mnist, 1))
