"""siamese.teaching: what the teaching views compute, worked out by hand on tiny inputs and a
stub model whose descriptors are pixels."""
from __future__ import annotations

import gc
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from siamese import Comparator, ModelConfig
from siamese import metrics as M
from siamese import teaching as T
from siamese.model import SiameseNet
from siamese.pairs import fixed_pairs
from siamese.reference import Reference


class StubComparator:
    """Descriptor = the first three pixels of row 0 (as numbers); Euclidean distance;
    p(same) = sigmoid(1 - d)."""

    device = torch.device("cpu")
    threshold = 1.0

    def __init__(self, weights=None, metrics=None):
        self.model = SimpleNamespace(metric_weights=lambda: weights)
        self.metrics = dict(metrics or {})

    def embed(self, images, fast=None):
        return torch.as_tensor(np.asarray(images)).float()[:, 0, :3]

    def distance(self, a, b):
        return (a - b).pow(2).sum(-1).sqrt()

    def same_probability(self, a, b):
        return torch.sigmoid(1 - self.distance(a, b))


def stub_images(descriptors) -> torch.Tensor:
    d = torch.as_tensor(descriptors, dtype=torch.uint8)
    images = torch.zeros(len(d), 28, 28, dtype=torch.uint8)
    images[:, 0, : d.shape[1]] = d
    return images


def stub_reference(per_class: int = 3, metrics=None) -> Reference:
    """10 classes; item i of class c has descriptor (20 c, i, 0): classes 20 apart on x, items
    of a class 1 apart."""
    desc = [[20 * (c % 10), i, 0] for c in range(10) for i in range(per_class)]
    labels = torch.tensor([c for c in range(10) for _ in range(per_class)])
    return Reference(StubComparator(metrics=metrics), stub_images(desc), labels)


# -- maps -----------------------------------------------------------------------------------------
def test_stratified_sample_takes_per_class_sorted_and_seeded():
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 7)
    idx = T.stratified_sample(labels, per_class=4, seed=1)
    assert torch.equal(idx, torch.sort(idx).values)
    assert [int((labels[idx] == c).sum()) for c in range(3)] == [4, 3, 4]  # class 1 has only 3
    assert torch.equal(idx, T.stratified_sample(labels, per_class=4, seed=1))
    assert not torch.equal(idx, T.stratified_sample(labels, per_class=4, seed=2))


def test_map_features_scale_by_the_head_weights():
    emb = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.equal(T.map_features(StubComparator(), emb), emb)  # Euclidean: unchanged
    head = StubComparator(weights=torch.tensor([4.0, -9.0, 0.0]))
    # sqrt(|v|) = (2, 3, 0): sum_i |v_i| (a_i - b_i)^2 becomes a plain squared distance
    assert torch.allclose(T.map_features(head, emb), torch.tensor([[2.0, 6.0, 0.0]]))


def test_map_features_of_a_real_head_model():
    model = SiameseNet(ModelConfig(channels=(2, 2, 2), embedding_dim=4))
    with torch.no_grad():
        model.head.weight.copy_(torch.tensor([[1.0, 0.0, 2.0, 0.5], [0.0, 1.0, 1.0, 0.5]]))
    cmp = Comparator(model)
    a, b = torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([[0.0, 0.0, 1.0, 9.0]])
    fa, fb = T.map_features(cmp, a), T.map_features(cmp, b)
    # v = W[0] - W[1] = (1, -1, 1, 0): |d| with v >= 0 is the head's distance with |v|
    v = torch.tensor([1.0, 1.0, 1.0, 0.0])
    assert torch.allclose((fa - fb).pow(2).sum(), ((a - b).pow(2) * v).sum())


def test_embedding_map_places_new_points_like_its_own():
    f = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    pca = T.PCA2(f)
    emap = T.EmbeddingMap("pca", np.arange(4), np.zeros(4, int), pca(f).numpy(), torch.arange(2), f, pca)
    assert np.allclose(emap.place(f), emap.xy, atol=1e-6)
    # t-SNE has no projection: a new point goes to the mean of its nearest map points
    tsne_map = T.EmbeddingMap("tsne", np.arange(4), np.zeros(4, int),
                              np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32), torch.arange(2), f,
                              neighbours=2)
    assert np.allclose(tsne_map.place(torch.tensor([[2.0, 0.4]])), [[10.0, 5.0]])  # nearest: items 1, 3
    assert tsne_map.nearest(torch.tensor([[0.1, 0.9]]), 1).tolist() == [[2]]


def test_embedding_map_uses_only_its_columns():
    f = torch.tensor([[0.0, 5.0, 0.0], [0.0, 1.0, 2.0]])
    emap = T.EmbeddingMap("tsne", np.arange(2), np.zeros(2, int), np.zeros((2, 2), np.float32),
                          torch.tensor([1, 2]), f[:, 1:])
    assert torch.equal(emap.reduce(torch.tensor([[7.0, 1.0, 2.0]])), torch.tensor([[1.0, 2.0]]))


def test_tsne_separates_blobs_and_is_deterministic_from_an_init():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0] * 5, [8.0] + [0.0] * 4, [0.0, 8.0, 0, 0, 0]])
    x = torch.cat([c + torch.randn(20, 5, generator=g) for c in centres])  # (60, 5)
    labels = torch.arange(3).repeat_interleave(20)
    init = T.PCA2(x)(x)
    y = T.tsne(x, perplexity=10, init=init)
    assert y.shape == (60, 2) and torch.isfinite(y).all()
    d = torch.cdist(y, y)
    d.fill_diagonal_(float("inf"))
    assert bool((labels[d.argmin(1)] == labels).all())  # every point's 2-D neighbour is of its blob
    assert torch.equal(y, T.tsne(x, perplexity=10, init=init))
    assert T.tsne(x[:2]).shape == (2, 2)  # too few points: a trivial map, no crash


# -- ROC and mistakes --------------------------------------------------------------------------------
def test_roc_and_its_point_at_a_threshold_by_hand():
    d = torch.tensor([0.1, 0.2, 0.3, 0.4])
    same = torch.tensor([1.0, 0.0, 1.0, 0.0])
    r = T.roc(d, same)
    assert np.allclose(r.fpr, [0, 0, 0.5, 0.5, 1]) and np.allclose(r.tpr, [0, 0.5, 0.5, 1, 1])
    assert r.auc == pytest.approx(0.75)  # 0.5 * 0.5 + 0.5 * 1
    assert (r.positives, r.negatives) == (2, 2)
    assert r.at(0.05) == (0.0, 0.0)
    assert r.at(0.1) == (0.0, 0.5)  # 'same if d <= t': the pair at exactly 0.1 is called same
    assert r.at(0.25) == (0.5, 0.5)
    assert r.at(0.3) == (0.5, 1.0)
    assert r.at(9.0) == (1.0, 1.0)


def test_roc_point_agrees_with_confusion_at_everywhere():
    g = torch.Generator().manual_seed(0)
    d = torch.randn(500, generator=g).round(decimals=1)  # many ties
    same = (torch.rand(500, generator=g) < 0.4).float()
    r = T.roc(d, same)
    for t in torch.linspace(-3, 3, 41).tolist():
        c = M.confusion_at(d, same, t)
        fpr, tpr = r.at(t)
        assert fpr == pytest.approx(c["fp"] / r.negatives) and tpr == pytest.approx(c["tp"] / r.positives)


def test_worst_pairs_by_hand():
    labels = torch.tensor([0, 0, 1, 1])
    a = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    b = torch.tensor([1, 0, 3, 2, 2, 3, 0, 1])
    d = torch.tensor([0.1, 0.9, 0.5, 0.3, 2.0, 0.2, 3.0, 1.5])
    far, close = T.worst_pairs(d, a, b, labels, k=2)
    assert [(p.a, p.b, p.distance) for p in far] == [(1, 0, pytest.approx(0.9)), (2, 3, pytest.approx(0.5))]
    assert [(p.a, p.b, p.distance) for p in close] == [(1, 3, pytest.approx(0.2)), (3, 1, pytest.approx(1.5))]
    assert all(p.same for p in far) and not any(p.same for p in close)
    assert (close[0].label_a, close[0].label_b) == (0, 1)


# -- one-shot -----------------------------------------------------------------------------------------
def test_class_references_one_per_class_seeded():
    labels = torch.tensor([c for c in range(10) for _ in range(5)])
    refs = T.class_references(labels, seed=3)
    assert [int(labels[i]) for i in refs] == list(range(10))
    assert refs == T.class_references(labels, seed=3)
    assert any(T.class_references(labels, seed=s) != refs for s in range(4, 8))
    with pytest.raises(ValueError):
        T.class_references(torch.tensor([0, 1]), seed=0)


def test_one_shot_ranking_by_hand():
    cmp = StubComparator()
    refs = torch.tensor([[0.0, 0, 0], [3.0, 4, 0], [1.0, 0, 0]])  # classes 0, 1, 2
    ranked = T.one_shot_ranking(cmp, torch.tensor([1.0, 0, 0]), refs, [0, 1, 2])
    assert [r.label for r in ranked] == [2, 0, 1]
    assert [r.distance for r in ranked] == pytest.approx([0.0, 1.0, math.sqrt(4 + 16)])
    assert ranked[0].same_probability == pytest.approx(1 / (1 + math.exp(-1)))


def test_one_shot_accuracy_stub_and_chunks():
    ref = stub_reference(per_class=4)
    # classes are 20 apart and items at most 3: every digit finds its class
    assert T.one_shot_accuracy(ref.comparator, ref.embeddings, ref.labels) == 1.0
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(60, 3, generator=g)
    labels = torch.arange(10).repeat(6)
    whole = T.one_shot_accuracy(StubComparator(), emb, labels, chunk=1000)
    assert T.one_shot_accuracy(StubComparator(), emb, labels, chunk=7) == whole
    assert 0.0 <= whole <= 1.0


# -- Lessons ------------------------------------------------------------------------------------------
def test_lessons_compute_once_and_match_the_reference():
    ref = stub_reference(per_class=5)
    les = T.Lessons.of(ref, sample_per_class=2)
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
    assert T.Lessons.of(ref).one_shot_accuracy() == 0.25


def test_lessons_tsne_map_places_points_among_their_class():
    ref = stub_reference(per_class=8)
    les = T.Lessons.of(ref, sample_per_class=8)
    emap = les.map("tsne")
    assert emap.method == "tsne" and emap.pca is None
    f = T.map_features(ref.comparator, ref.comparator.embed(stub_images([[60, 2, 0]])))  # a 3
    assert emap.labels[emap.nearest(f, 3)[0]].tolist() == [3, 3, 3]
    with pytest.raises(ValueError):
        les.map("umap")


def test_lessons_hold_their_reference_weakly():
    ref = stub_reference()
    les = T.Lessons.of(ref)
    les.roc()
    del ref
    gc.collect()
    with pytest.raises(RuntimeError, match="gone"):
        les.map("pca")


# -- the toy ------------------------------------------------------------------------------------------
A, P, N = (0.0, 0.0), (3.0, 4.0), (0.6, 0.8)  # d(A, P) = 5, d(A, N) = 1


def test_toy_contrastive_by_hand():
    t = T.toy_losses([A, P, N], "contrastive", margin=2.0)
    assert t.value == pytest.approx(25 + 1)  # d_ap^2 + (m - d_an)^2
    assert (t.d_ap, t.d_an) == (pytest.approx(5.0), pytest.approx(1.0))
    # pull: d/dA |A - P|^2 = 2 (A - P); push: d/dN (m - |N - A|)^2 = -2 (m - d) (N - A) / d
    assert np.allclose(t.pull, [[-6, -8], [6, 8], [0, 0]], atol=1e-5)
    assert np.allclose(t.push, [[1.2, 1.6], [0, 0], [-1.2, -1.6]], atol=1e-5)
    assert np.allclose(t.grads, t.pull + t.push, atol=1e-6)
    far = T.toy_losses([A, P, (0, 3)], "contrastive", margin=2.0)  # N beyond the margin
    assert far.terms["push"] == 0 and np.allclose(far.push, 0)


def test_toy_triplet_by_hand():
    t = T.toy_losses([A, P, N], "triplet", margin=2.0)
    assert t.value == pytest.approx(5 - 1 + 2)
    # d/dA (d_ap - d_an) = (A - P)/5 - (A - N)/1 = (-0.6, -0.8) + (0.6, 0.8) = 0
    assert np.allclose(t.grads, [[0, 0], [0.6, 0.8], [-0.6, -0.8]], atol=1e-5)
    assert np.allclose(t.grads, t.pull + t.push, atol=1e-6)
    easy = T.toy_losses([A, N, P], "triplet", margin=2.0)  # P at 1, N at 5: satisfied by 4 > 2
    assert easy.value == 0 and np.allclose(easy.grads, 0) and easy.terms["violation"] == pytest.approx(-2)


def test_toy_bce_by_hand():
    t = T.toy_losses([(0, 0), (1, 0), (0, 2)], "bce", margin=1.0)
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
        before = T.toy_losses(pts, loss, 1.0)
        after = T.toy_step(pts, loss, 1.0, lr=0.05)
        assert np.allclose(after, pts - 0.05 * before.grads)
        assert T.toy_losses(after, loss, 1.0).value < before.value
    with pytest.raises(ValueError):
        T.toy_losses(pts, "hinge")
