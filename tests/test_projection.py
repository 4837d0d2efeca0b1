import numpy as np
import torch

from siamese import Comparator, ModelConfig
from siamese import projection as P
from siamese.model import SiameseNet
from siamese.projection import PCA2

from .helpers import StubComparator


def test_pca_finds_the_spread_axes_by_hand():
    # points spread along x (±3) and less along y (±1) in 3-D: the axes are e_x, then e_y
    pts = torch.tensor([[3.0, 0, 0], [-3.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]])
    pca = PCA2(pts)
    xy = pca(pts)
    assert torch.allclose(xy.abs(), torch.tensor([[3.0, 0], [3.0, 0], [0, 1.0], [0, 1.0]]), atol=1e-5)


def test_alignment_keeps_the_map_from_mirroring():
    g = torch.Generator().manual_seed(0)
    pts = torch.randn(200, 8, generator=g) * torch.tensor([5.0, 3, 1, 1, 1, 1, 1, 1])
    first = PCA2(pts)
    again = PCA2(-pts + 0.01 * torch.randn(200, 8, generator=g), align_to=first)
    # negating the data flips the projection; alignment makes the axes agree with the first map
    assert (again.axes * first.axes).sum(0).min() > 0.9


def test_stratified_sample_takes_per_class_sorted_and_seeded():
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 7)
    idx = P.stratified_sample(labels, per_class=4, seed=1)
    assert torch.equal(idx, torch.sort(idx).values)
    assert [int((labels[idx] == c).sum()) for c in range(3)] == [4, 3, 4]  # class 1 has only 3
    assert torch.equal(idx, P.stratified_sample(labels, per_class=4, seed=1))
    assert not torch.equal(idx, P.stratified_sample(labels, per_class=4, seed=2))


def test_map_features_scale_by_the_head_weights():
    emb = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.equal(P.map_features(StubComparator(), emb), emb)  # Euclidean: unchanged
    head = StubComparator(weights=torch.tensor([4.0, -9.0, 0.0]))
    # sqrt(|v|) = (2, 3, 0): sum_i |v_i| (a_i - b_i)^2 becomes a plain squared distance
    assert torch.allclose(P.map_features(head, emb), torch.tensor([[2.0, 6.0, 0.0]]))


def test_map_features_of_a_real_head_model():
    model = SiameseNet(ModelConfig(channels=(2, 2, 2), embedding_dim=4))
    with torch.no_grad():
        model.head.weight.copy_(torch.tensor([[1.0, 0.0, 2.0, 0.5], [0.0, 1.0, 1.0, 0.5]]))
    cmp = Comparator(model, {"threshold": 0.0})
    a, b = torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([[0.0, 0.0, 1.0, 9.0]])
    fa, fb = P.map_features(cmp, a), P.map_features(cmp, b)
    # v = W[0] - W[1] = (1, -1, 1, 0): |d| with v >= 0 is the head's distance with |v|
    v = torch.tensor([1.0, 1.0, 1.0, 0.0])
    assert torch.allclose((fa - fb).pow(2).sum(), ((a - b).pow(2) * v).sum())


def test_embedding_map_places_new_points_like_its_own():
    f = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    pca = PCA2(f)
    emap = P.EmbeddingMap("pca", np.arange(4), np.zeros(4, int), pca(f).numpy(), torch.arange(2), f, pca)
    assert np.allclose(emap.place(f), emap.xy, atol=1e-6)
    # t-SNE has no projection: a new point goes to the mean of its nearest map points
    tsne_map = P.EmbeddingMap("tsne", np.arange(4), np.zeros(4, int),
                              np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32), torch.arange(2), f,
                              neighbours=2)
    assert np.allclose(tsne_map.place(torch.tensor([[2.0, 0.4]])), [[10.0, 5.0]])  # nearest: items 1, 3
    assert tsne_map.nearest(torch.tensor([[0.1, 0.9]]), 1).tolist() == [[2]]


def test_embedding_map_uses_only_its_columns():
    f = torch.tensor([[0.0, 5.0, 0.0], [0.0, 1.0, 2.0]])
    emap = P.EmbeddingMap("tsne", np.arange(2), np.zeros(2, int), np.zeros((2, 2), np.float32),
                          torch.tensor([1, 2]), f[:, 1:])
    assert torch.equal(emap.reduce(torch.tensor([[7.0, 1.0, 2.0]])), torch.tensor([[1.0, 2.0]]))


def test_tsne_separates_blobs_and_is_deterministic_from_an_init():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0] * 5, [8.0] + [0.0] * 4, [0.0, 8.0, 0, 0, 0]])
    x = torch.cat([c + torch.randn(20, 5, generator=g) for c in centres])  # (60, 5)
    labels = torch.arange(3).repeat_interleave(20)
    init = PCA2(x)(x)
    y = P.tsne(x, perplexity=10, init=init)
    assert y.shape == (60, 2) and torch.isfinite(y).all()
    d = torch.cdist(y, y)
    d.fill_diagonal_(float("inf"))
    assert bool((labels[d.argmin(1)] == labels).all())  # every point's 2-D neighbour is of its blob
    assert torch.equal(y, P.tsne(x, perplexity=10, init=init))
    assert P.tsne(x[:2]).shape == (2, 2)  # too few points: a trivial map, no crash


def test_live_map_is_bounded_and_does_not_mirror_between_refreshes():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(200, 16, generator=g)
    emb[:, 0] *= 5  # a clear first axis
    live = P.LiveMap()
    xy = live(emb)
    assert xy.shape == (200, 2) and xy.dtype == np.float32 and np.abs(xy).max() <= P.LIVE_MAP_LIMIT
    # each refresh's axes agree with the previous map's (PCA alone may flip their signs)
    axes = live.pca.axes.clone()
    live(-emb + 0.01 * torch.randn(200, 16, generator=g))
    assert (live.pca.axes * axes).sum(0).min() > 0.9
