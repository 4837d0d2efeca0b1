"""What the page's teaching views compute from one model's `Reference` (no Gradio here).

    lessons = Lessons(ref)             # cheap; each part is computed on first use, then kept
    lessons.map("pca")                 # EmbeddingMap: 1,000 test digits in 2-D, 100 per class
    lessons.map("tsne")                # the same digits by t-SNE (seconds on a CPU, so cache it)
    lessons.roc()                      # RocCurve over the 20,000 fixed test pairs
    lessons.worst_pairs(k=8)           # same pairs farthest apart, different pairs closest
    lessons.one_shot_accuracy()        # 10-way, as `siamese.evaluate` measures it
    one_shot_ranking(cmp, query, refs) # one drawn digit against one reference per class
    toy_losses(points, "triplet", 1.0) # a 2-D toy: each loss's value and gradient per point

A `Lessons` keeps only a weak reference to its `Reference`, so a cache of them (keyed by the
Reference) never keeps a model's 10,000 test embeddings alive after the page drops them.
"""
from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import losses as L
from . import metrics as M
from .compare import Comparator
from .pairs import fixed_pairs, one_shot_references
from .projection import PCA2

NUM_CLASSES = 10
MAP_PER_CLASS = 100  # 1,000 points: enough to see the clusters, light in a browser
TSNE_ITERATIONS = 500


# -- the map's feature space ---------------------------------------------------------------------
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


# -- ROC and mistakes ------------------------------------------------------------------------------
@dataclass
class RocCurve:
    """ROC of 'same if distance <= t' on the fixed test pairs (see metrics.roc_curve)."""

    fpr: np.ndarray  # (K + 1,) from 0 to 1
    tpr: np.ndarray
    thresholds: np.ndarray  # (K + 1,) the first is -inf
    auc: float
    positives: int
    negatives: int

    def at(self, threshold: float) -> tuple[float, float]:
        """(fpr, tpr) of the rule at `threshold`: the last curve point whose distance is
        <= threshold (ties move together, as in roc_curve). The threshold is rounded to
        float32 first, as `metrics.confusion_at` compares it with float32 distances."""
        t = float(np.float32(threshold))
        k = int(np.searchsorted(self.thresholds, t, side="right")) - 1
        k = max(k, 0)
        return float(self.fpr[k]), float(self.tpr[k])


def roc(distances: torch.Tensor, same: torch.Tensor) -> RocCurve:
    fpr, tpr, thr = M.roc_curve(distances, same)
    y = same.detach().cpu() > 0.5
    return RocCurve(fpr.numpy(), tpr.numpy(), thr.numpy(), float(torch.trapezoid(tpr, fpr)),
                    int(y.sum()), int((~y).sum()))


@dataclass
class PairExample:
    """One fixed test pair: positions in the test set, labels, the model's distance."""

    a: int
    b: int
    label_a: int
    label_b: int
    distance: float

    @property
    def same(self) -> bool:
        return self.label_a == self.label_b


def worst_pairs(distances: torch.Tensor, a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor,
                k: int = 8) -> tuple[list[PairExample], list[PairExample]]:
    """The pairs the model gets most wrong, whatever the threshold: the k same-digit pairs
    with the largest distance (farthest first) and the k different-digit pairs with the
    smallest (closest first). distances, a, b: (P,); labels: the test labels a and b index."""
    d = distances.detach().float().cpu()
    a, b, lab = a.cpu(), b.cpu(), labels.cpu()
    same = lab[a] == lab[b]

    def pick(mask: torch.Tensor, largest: bool) -> list[PairExample]:
        pos = torch.nonzero(mask).squeeze(1)
        if not len(pos):
            return []
        top = torch.topk(d[pos], min(k, len(pos)), largest=largest).indices
        return [PairExample(int(a[i]), int(b[i]), int(lab[a[i]]), int(lab[b[i]]), float(d[i]))
                for i in pos[top].tolist()]

    return pick(same, True), pick(~same, False)


# -- one-shot classification ----------------------------------------------------------------------
def class_references(labels: torch.Tensor, seed: int = 0, num_classes: int = NUM_CLASSES) -> list[int]:
    """One random item of each class (positions into `labels`), from `seed`: the references a
    learner sees; a new seed draws new ones."""
    g = torch.Generator().manual_seed(seed)
    lab = labels.cpu()
    out = []
    for c in range(num_classes):
        members = torch.nonzero(lab == c).squeeze(1)
        if not len(members):
            raise ValueError(f"no item of class {c}")
        out.append(int(members[torch.randint(len(members), (1,), generator=g)]))
    return out


@dataclass
class Ranked:
    label: int
    distance: float
    same_probability: float


def one_shot_ranking(comparator: Comparator, query: torch.Tensor, references: torch.Tensor,
                     labels) -> list[Ranked]:
    """A verifier used as a classifier: the query descriptor (1, D) or (D,) against one
    reference descriptor per class (C, D); the classes ranked by same-probability, most
    likely first (distance breaks ties; the two agree for every model here)."""
    q = query.reshape(1, -1).expand(references.shape[0], -1)
    d = comparator.distance(q, references).float().cpu()
    p = comparator.same_probability(q, references).float().cpu()
    out = [Ranked(int(c), float(di), float(pi)) for c, di, pi in zip(labels, d, p)]
    return sorted(out, key=lambda r: (-r.same_probability, r.distance))


@torch.inference_mode()
def one_shot_accuracy(comparator: Comparator, emb: torch.Tensor, labels: torch.Tensor,
                      seed: int = 0, chunk: int = 1000) -> float:
    """10-way one-shot accuracy as `siamese.evaluate` defines it: each item against one random
    other item per class (`pairs.one_shot_references`, seed 0), predicted class = the nearest
    reference. emb: (N, D) descriptors of the items, labels: (N,)."""
    refs = one_shot_references(labels.cpu(), seed=seed).to(emb.device)  # (N, C)
    lab = labels.to(emb.device)
    hits = 0
    for i in range(0, len(lab), chunk):  # (chunk, C, D) at a time: the whole is 200 MB
        e, r = emb[i : i + chunk], refs[i : i + chunk]
        d = comparator.distance(e.unsqueeze(1).expand(-1, r.shape[1], -1), emb[r])  # (chunk, C)
        hits += int((d.argmin(1) == lab[i : i + chunk]).sum())
    return hits / max(len(lab), 1)


# -- the per-model cache --------------------------------------------------------------------------
@dataclass(eq=False)  # compared and hashed by identity: one per Reference
class Lessons:
    """Everything the teaching views need from one model's Reference, computed on first use
    and kept. Thread-safe: two sessions asking at once compute once. Holds the Reference
    weakly (see the module docstring)."""

    ref: "weakref.ref"
    sample_per_class: int = MAP_PER_CLASS
    _parts: dict = field(default_factory=dict)
    _locks: dict = field(default_factory=dict)  # one per part: a slow t-SNE blocks no other part
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, reference, **kwargs) -> "Lessons":
        return cls(weakref.ref(reference), **kwargs)

    @property
    def reference(self):
        r = self.ref()
        if r is None:
            raise RuntimeError("the Reference behind these lessons is gone")
        return r

    def _get(self, name: str, make):
        with self._lock:
            if name in self._parts:
                return self._parts[name]
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:  # a second caller waits for the first one's result
            if name not in self._parts:
                self._parts[name] = make()
            return self._parts[name]

    def has(self, name: str) -> bool:
        return name in self._parts

    def memo(self, name: str, make):
        """Keep anything else derived from this model (e.g. a rendered view) with the same
        lifetime; `make()` runs once per name."""
        return self._get("memo:" + name, make)

    def pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(a, b) of the fixed test pairs, in the order of `Reference.pair_distances`."""
        def make():
            ref = self.reference
            a, b, same = fixed_pairs(ref.labels, 0)
            if len(a) != len(ref.pair_distances) or not torch.equal(same.cpu(), ref.pair_same):
                raise RuntimeError("the Reference's pairs are not fixed_pairs(labels, 0)")
            return a.cpu(), b.cpu()
        return self._get("pairs", make)

    def features(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(sample positions (n,), the live columns (K,), those columns of their map_features
        (n, K)). ReLU descriptors have features that are 0 for every digit (most of the 512 in
        the shipped model); dropping them changes no distance and makes the SVD several times
        faster."""
        def make():
            ref = self.reference
            idx = stratified_sample(ref.labels, self.sample_per_class)
            f = map_features(ref.comparator, ref.embeddings[idx.to(ref.embeddings.device)])
            columns = torch.nonzero(f.abs().amax(0) > 0).squeeze(1)
            if not len(columns):  # a dead model: keep one column so the maps still draw
                columns = torch.zeros(1, dtype=torch.long)
            return idx, columns, f[:, columns]
        return self._get("features", make)

    def map(self, method: str = "pca") -> EmbeddingMap:
        if method not in ("pca", "tsne"):
            raise ValueError(f"unknown map method {method!r}")

        def make():
            idx, columns, f = self.features()
            labels = self.reference.labels[idx].numpy()
            pca = self._get("pca", lambda: PCA2(f))
            base = pca(f)
            if method == "pca":
                return EmbeddingMap("pca", idx.numpy(), labels, base.numpy().astype(np.float32), columns, f, pca)
            y = tsne(f, init=base)
            return EmbeddingMap("tsne", idx.numpy(), labels, y.numpy().astype(np.float32), columns, f)
        return self._get("map:" + method, make)

    def roc(self) -> RocCurve:
        ref = self.reference
        return self._get("roc", lambda: roc(ref.pair_distances, ref.pair_same))

    def worst_pairs(self, k: int = 8) -> tuple[list[PairExample], list[PairExample]]:
        def make():
            a, b = self.pairs()
            ref = self.reference
            return worst_pairs(ref.pair_distances, a, b, ref.labels, k)
        return self._get(f"worst:{k}", make)

    def one_shot_accuracy(self) -> float:
        """The model's own measured value (checkpoint metrics) when it has one; otherwise
        measured here on the test set, as evaluate does."""
        def make():
            ref = self.reference
            measured = ref.comparator.metrics.get("one_shot_accuracy")
            if measured is not None:
                return float(measured)
            return one_shot_accuracy(ref.comparator, ref.embeddings, ref.labels)
        return self._get("one_shot_accuracy", make)


# -- the losses on a 2-D toy ----------------------------------------------------------------------
TOY_NAMES = ("A", "P", "N")  # anchor, positive (same digit), negative (another digit)


@dataclass
class ToyLoss:
    """One loss on the toy: A and P show the same digit, N another."""

    loss: str
    value: float
    grads: np.ndarray  # (3, 2) d loss / d point, rows A, P, N; = pull + push
    pull: np.ndarray  # (3, 2) the part of grads from the same pair (A, P)
    push: np.ndarray  # (3, 2) the part from the different pair (A, N)
    d_ap: float
    d_an: float
    terms: dict  # the loss's parts, named as in the formulas on the page

    def moves(self, lr: float) -> np.ndarray:
        """(3, 2) how one gradient-descent step of size lr moves each point (-lr * grad)."""
        return -lr * self.grads


def toy_head(margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A 2-D stand-in for the blog's head: logits [different, same] of (a - b)^2 with
    same - different = margin^2 - ||a - b||^2, so p(same) = sigmoid(m^2 - d^2) is 1/2 at d = m."""
    w = torch.tensor([[0.5, 0.5], [-0.5, -0.5]])
    b = torch.tensor([-margin ** 2 / 2, margin ** 2 / 2])
    return w, b


def _grad(fn, points: np.ndarray) -> tuple[float, np.ndarray]:
    """(fn(x), d fn / d x) for x the (3, 2) points, by autograd."""
    x = torch.tensor(points).requires_grad_(True)
    value = fn(x[0:1], x[1:2], x[2:3])
    if not value.requires_grad:  # a constant: no gradient
        return float(value), np.zeros_like(points)
    (g,) = torch.autograd.grad(value, x)
    return float(value.detach()), g.numpy()


def toy_losses(points, loss: str, margin: float = 1.0) -> ToyLoss:
    """The loss on three 2-D points (A, P, N) by the real `siamese.losses` function, and its
    gradient with respect to each point by autograd, split into the pull of the same pair and
    the push of the different pair. bce and contrastive see the two pairs (A, P) same and
    (A, N) different, as the blog builds them (their loss is the sum of the two pairs' losses,
    so each part is the loss function on one pair); triplet sees (A, P, N), its two parts are
    the gradients of d(A, P) and -d(A, N) while the margin is violated."""
    pts = np.asarray(points, dtype=np.float32).reshape(3, 2)
    one, zero = torch.ones(1), torch.zeros(1)
    if loss == "bce":
        w, b = toy_head(margin)

        def part(u, v, same):
            return L.bce_loss(F.linear((u - v).pow(2), w, b), same)

        value, grads = _grad(lambda a, p, n: part(torch.cat([a, a]), torch.cat([p, n]), torch.cat([one, zero])), pts)
        _, pull = _grad(lambda a, p, n: part(a, p, one), pts)
        _, push = _grad(lambda a, p, n: part(a, n, zero), pts)
        x = torch.tensor(pts)
        d2 = torch.stack([(x[0] - x[1]).pow(2).sum(), (x[0] - x[2]).pow(2).sum()])
        p_same = torch.sigmoid(margin ** 2 - d2)
        terms = {"p_same_AP": float(p_same[0]), "p_same_AN": float(p_same[1]),
                 "pull": -math.log(max(float(p_same[0]), 1e-30)),
                 "push": -math.log(max(1 - float(p_same[1]), 1e-30))}
    elif loss == "contrastive":
        value, grads = _grad(lambda a, p, n: L.contrastive_loss(torch.cat([a, a]), torch.cat([p, n]),
                                                                torch.cat([one, zero]), margin), pts)
        pull_value, pull = _grad(lambda a, p, n: L.contrastive_loss(a, p, one, margin), pts)
        push_value, push = _grad(lambda a, p, n: L.contrastive_loss(a, n, zero, margin), pts)
        terms = {"pull": pull_value, "push": push_value}
    elif loss == "triplet":
        value, grads = _grad(lambda a, p, n: L.triplet_loss(a, p, n, margin), pts)
        x = torch.tensor(pts)
        violation = float(L.distance(x[0], x[1]) - L.distance(x[0], x[2])) + margin
        active = 1.0 if violation > 0 else 0.0
        _, pull = _grad(lambda a, p, n: L.distance(a, p).sum(), pts)
        _, push = _grad(lambda a, p, n: -L.distance(a, n).sum(), pts)
        pull, push = pull * active, push * active
        terms = {"violation": violation}
    else:
        raise ValueError(f"unknown loss {loss!r}")
    x = torch.tensor(pts)
    return ToyLoss(loss, value, grads, pull, push, float(L.distance(x[0], x[1])),
                   float(L.distance(x[0], x[2])), terms)


def toy_step(points, loss: str, margin: float = 1.0, lr: float = 0.1) -> np.ndarray:
    """One gradient-descent step on the three points: (3, 2) -> (3, 2)."""
    t = toy_losses(points, loss, margin)
    return np.asarray(points, dtype=np.float32).reshape(3, 2) + t.moves(lr)
