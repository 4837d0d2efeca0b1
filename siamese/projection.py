"""2-D maps of embeddings for people to look at: PCA (kept from mirroring between refreshes),
exact t-SNE, and the map of test digits the teaching views draw.

    pca = PCA2(emb); pca(emb)               # (N, D) -> (N, 2)
    emap = EmbeddingMap(...); emap.place(f) # new descriptors on an existing map
    tsne(x, init=pca(x))                    # (n, D) -> (n, 2), deterministic from an init
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .compare import Comparator

MAP_PER_CLASS = 100  # 1,000 points: enough to see the clusters, light in a browser
LIVE_MAP_LIMIT = 3.2  # a LiveMap's coordinates lie in [-this, this] on each axis
TSNE_ITERATIONS = 500


class PCA2:
    """The two principal axes of a set of embeddings, to project it and new points onto.

    PCA fixes each axis only up to its sign; `align_to` flips the axes to agree with an earlier
    projection, so a map refreshed during training does not jump to its mirror image.
    """

    def __init__(self, emb: torch.Tensor, align_to: "PCA2 | None" = None):
        x = emb.detach().float().cpu()  # (N, D)
        self.mean = x.mean(0)  # (D,)
        # Top-2 right singular vectors of the centred data: (D, 2)
        _, _, v = torch.linalg.svd(x - self.mean, full_matrices=False)
        axes = v[:2].T.clone()
        if axes.shape[1] < 2:  # fewer than 2 points: pad with a zero axis
            axes = torch.cat([axes, torch.zeros(x.shape[1], 2 - axes.shape[1])], 1)
        if align_to is not None and align_to.axes.shape == axes.shape:
            signs = torch.sign((axes * align_to.axes).sum(0))  # (2,)
            axes = axes * torch.where(signs == 0, torch.ones_like(signs), signs)
        self.axes = axes

    def __call__(self, emb: torch.Tensor) -> torch.Tensor:
        """(M, D) -> (M, 2)."""
        return (emb.detach().float().cpu() - self.mean) @ self.axes


class LiveMap:
    """Embeddings that change as a network learns, mapped to 2-D again and again: PCA whose
    axes are kept from flipping between refreshes, each axis scaled so that 99 % of the points
    fall within [-LIVE_MAP_LIMIT, LIVE_MAP_LIMIT] whatever the network's scale (which grows as
    it learns); the rest sit on the edge."""

    def __init__(self):
        self.pca: PCA2 | None = None

    def __call__(self, embeddings: torch.Tensor) -> np.ndarray:
        """(N, D) -> (N, 2) float32."""
        self.pca = PCA2(embeddings, align_to=self.pca)
        xy = self.pca(embeddings).numpy()
        xy = xy - np.median(xy, axis=0)
        scale = np.percentile(np.abs(xy), 99, axis=0)  # (2,)
        xy = xy / np.where(scale > 0, scale, 1.0) * (LIVE_MAP_LIMIT * 0.92)
        return np.clip(xy, -LIVE_MAP_LIMIT, LIVE_MAP_LIMIT).astype(np.float32)


def map_features(comparator: Comparator, emb: torch.Tensor) -> torch.Tensor:
    """(N, D) descriptors -> (N, D) features whose Euclidean geometry the 2-D maps show.

    Euclidean models: the descriptors themselves. Head models (the blog's bce): each feature
    scaled by sqrt(|v_i|), v the head's weights (`SiameseNet.metric_weights`), so features the
    head ignores do not spread the map. (The head's own d = sum v_i (a_i - b_i)^2 is not a
    distance, some v_i being negative; sqrt(|v|) separates the classes best of the scalings we
    tried: 1-NN accuracy in 2-D 0.955 vs 0.909 raw and 0.925 with only v_i > 0.)
    """
    x = emb.detach().float().cpu()
    v = comparator.model.metric_weights()
    return x if v is None else x * v.detach().float().cpu().abs().sqrt()


def stratified_sample(labels: torch.Tensor, per_class: int = MAP_PER_CLASS, seed: int = 0) -> torch.Tensor:
    """(n,) positions into `labels`: `per_class` random items of each class (all of a smaller
    class), sorted, from `seed`."""
    g = torch.Generator().manual_seed(seed)
    lab = labels.cpu()
    picks = []
    for c in range(int(lab.max()) + 1 if len(lab) else 0):
        members = torch.nonzero(lab == c).squeeze(1)
        picks.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    return torch.sort(torch.cat(picks)).values if picks else torch.zeros(0, dtype=torch.long)


@dataclass
class EmbeddingMap:
    """Test digits placed in 2-D. `place` puts new descriptors on the same map."""

    method: str  # "pca" or "tsne"
    indices: np.ndarray  # (n,) positions in the MNIST test set
    labels: np.ndarray  # (n,)
    xy: np.ndarray  # (n, 2) float32
    columns: torch.Tensor  # (K,) the map_features columns used (those not 0 for every point)
    features: torch.Tensor  # (n, K) those columns of the points' map_features
    pca: PCA2 | None = None
    neighbours: int = 5

    def reduce(self, features: torch.Tensor) -> torch.Tensor:
        """(M, D) map_features -> (M, K), the columns the map uses."""
        return features.detach().float().cpu()[:, self.columns]

    def nearest(self, features: torch.Tensor, k: int) -> np.ndarray:
        """(M, D) map_features -> (M, k) positions in the map of each one's nearest points."""
        d = torch.cdist(self.reduce(features), self.features)
        return d.topk(min(k, len(self.xy)), largest=False).indices.numpy()

    def place(self, features: torch.Tensor) -> np.ndarray:
        """(M, D) map_features -> (M, 2). PCA projects them; t-SNE has no projection, so a new
        point goes to the mean position of its `neighbours` nearest map points (in feature
        space), which is where t-SNE would have put it among them."""
        if self.pca is not None:
            return self.pca(self.reduce(features)).numpy()
        return self.xy[self.nearest(features, self.neighbours)].mean(1)


def tsne(x: torch.Tensor, perplexity: float = 30.0, iterations: int = TSNE_ITERATIONS,
         init: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """Exact t-SNE (van der Maaten and Hinton 2008), (n, D) -> (n, 2), for a few thousand points.

    Gaussian affinities with a per-point bandwidth found by bisection to match `perplexity`,
    Student-t similarities in 2-D, early exaggeration 12 for the first 250 steps, momentum and
    per-coordinate gains as in the reference implementation; learning rate max(n / 48, 50)
    (sklearn's "auto"). `init` (n, 2), e.g. the PCA map, makes it deterministic and keeps the
    global layout; otherwise a seeded random start. O(n^2) memory and time per step.
    """
    x = x.detach().double().cpu()
    n = x.shape[0]
    if n < 3:
        return torch.zeros(n, 2)
    perplexity = min(perplexity, (n - 1) / 3)
    sq = (x * x).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * x @ x.T).clamp_min(0)  # (n, n)
    d2 = d2 / d2[d2 > 0].median()  # scale-free bisection start
    eye = torch.eye(n, dtype=torch.bool)
    target = math.log(perplexity)
    beta = torch.ones(n, dtype=torch.float64)
    lo = torch.zeros(n, dtype=torch.float64)
    hi = torch.full((n,), math.inf, dtype=torch.float64)
    for _ in range(50):
        p = torch.softmax((-d2 * beta[:, None]).masked_fill(eye, -math.inf), 1)
        entropy = -(p * torch.log(p.clamp_min(1e-300))).sum(1)
        wide = entropy > target  # too many effective neighbours: sharpen
        lo = torch.where(wide, beta, lo)
        hi = torch.where(wide, hi, beta)
        beta = torch.where(torch.isinf(hi), beta * 2, (lo + hi) / 2)
    P = ((p + p.T) / (2 * n)).float().clamp_min(1e-12)  # (n, n) joint affinities

    if init is not None:
        y = init.detach().float().cpu().clone()
        y = (y - y.mean(0)) / y[:, 0].std().clamp_min(1e-12) * 1e-4
    else:
        y = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)) * 1e-4
    velocity, gains = torch.zeros_like(y), torch.ones_like(y)
    lr = max(n / 48, 50.0)
    for step in range(iterations):
        early = step < 250
        s = (y * y).sum(1)
        num = 1.0 / (1.0 + (s[:, None] + s[None, :] - 2 * y @ y.T).clamp_min(0))  # (n, n)
        num.fill_diagonal_(0)
        w = ((12.0 if early else 1.0) * P - num / num.sum()) * num
        grad = 4 * (w.sum(1, keepdim=True) * y - w @ y)  # (n, 2)
        flip = (grad > 0) != (velocity > 0)
        gains = torch.where(flip, gains + 0.2, gains * 0.8).clamp_min(0.01)
        velocity = (0.5 if early else 0.8) * velocity - lr * gains * grad
        y = y + velocity
    return y - y.mean(0)
