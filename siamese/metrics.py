"""Verification metrics on distances. Convention: a pair is called 'same' when its distance is
<= the threshold, so smaller distance = more similar everywhere in this module."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def roc_curve(distances: torch.Tensor, same: torch.Tensor):
    """ROC of the rule 'same if d <= t' over all thresholds t.

    Returns (fpr, tpr, thresholds), each (K + 1,), starting at (0, 0) with t = -inf and ending
    at (1, 1); tied distances move together.
    """
    d = distances.detach().double().cpu()
    y = same.detach().cpu() > 0.5
    order = torch.argsort(d)
    d, y = d[order], y[order]
    tp = torch.cumsum(y.double(), 0)
    fp = torch.cumsum((~y).double(), 0)
    last = torch.ones_like(d, dtype=torch.bool)  # keep the last index of each run of ties
    last[:-1] = d[1:] != d[:-1]
    p, n = max(float(y.sum()), 1.0), max(float((~y).sum()), 1.0)
    zero = torch.zeros(1, dtype=torch.float64)
    fpr = torch.cat([zero, fp[last] / n])
    tpr = torch.cat([zero, tp[last] / p])
    thr = torch.cat([torch.tensor([float("-inf")], dtype=torch.float64), d[last]])
    return fpr, tpr, thr


def curve_auc(fpr: torch.Tensor, tpr: torch.Tensor) -> float:
    """Area under an ROC curve given by its points (trapezoids, so ties count half)."""
    return float(torch.trapezoid(tpr, fpr))


def roc_auc(distances: torch.Tensor, same: torch.Tensor) -> float:
    """Area under the ROC curve: the chance that a random same pair is closer than a random
    different pair (ties count half)."""
    fpr, tpr, _ = roc_curve(distances, same)
    return curve_auc(fpr, tpr)


def best_threshold(distances: torch.Tensor, same: torch.Tensor) -> float:
    """The threshold with the highest accuracy, placed midway between the two distances where
    the decision flips (so it generalises rather than sitting on one sample)."""
    fpr, tpr, thr = roc_curve(distances, same)
    y = same.detach().cpu() > 0.5
    p, n = float(y.sum()), float((~y).sum())
    correct = tpr * p + (1 - fpr) * n  # (K + 1,)
    k = int(torch.argmax(correct))
    if k == 0:
        return float(thr[1]) - 1e-6 if len(thr) > 1 else 0.0
    if k == len(thr) - 1:
        return float(thr[k]) + 1e-6
    return float((thr[k] + thr[k + 1]) / 2)


def confusion_at(distances: torch.Tensor, same: torch.Tensor, threshold: float) -> dict:
    """Accuracy, precision and recall of 'same' at one threshold, with the raw counts."""
    pred = distances.detach().cpu() <= threshold
    y = same.detach().cpu() > 0.5
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    fn = int((~pred & y).sum())
    tn = int((~pred & ~y).sum())
    total = max(tp + fp + fn + tn, 1)
    return {
        "accuracy": (tp + tn) / total,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
    }


def accuracy_at(distances: torch.Tensor, same: torch.Tensor, threshold: float) -> float:
    return confusion_at(distances, same, threshold)["accuracy"]


def fit_logistic(distances: torch.Tensor, same: torch.Tensor, steps: int = 200) -> tuple[float, float]:
    """Fit p(same | d) = sigmoid(a * d + b) by maximum likelihood (Newton's method, 2 params).

    Used to give distance-trained models (contrastive, triplet) a calibrated same-probability.
    """
    d = distances.detach().double().cpu()
    y = (same.detach().cpu() > 0.5).double()
    scale = float(d.std()) or 1.0
    x = torch.stack([d / scale, torch.ones_like(d)], 1)  # (P, 2)
    w = torch.zeros(2, dtype=torch.float64)
    for _ in range(steps):
        p = torch.sigmoid(x @ w)
        g = x.T @ (p - y)
        h = x.T @ (x * (p * (1 - p)).unsqueeze(1)) + 1e-6 * torch.eye(2, dtype=torch.float64)
        delta = torch.linalg.solve(h, g)
        w = w - delta
        if float(delta.abs().max()) < 1e-10:
            break
    return float(w[0] / scale), float(w[1])


def nearest(query: torch.Tensor, gallery: torch.Tensor, weights: torch.Tensor | None = None,
            k: int = 1, chunk: int = 1024) -> torch.Tensor:
    """(Q, D), (G, D) -> (Q, k) gallery indices of the k nearest under sum_i w_i (q_i - g_i)^2
    (plain squared Euclidean when `weights` is None)."""
    w = torch.ones(gallery.shape[1], device=gallery.device) if weights is None else weights.to(gallery.device)
    g2 = (gallery.pow(2) * w).sum(1)  # (G,)
    out = []
    for i in range(0, query.shape[0], chunk):
        q = query[i : i + chunk]
        # sum w (q - g)^2 = sum w q^2 - 2 (w q).g + sum w g^2; the first term does not change
        # the ranking, so one matmul per chunk does it.
        d = g2.unsqueeze(0) - 2 * (q * w) @ gallery.T  # (chunk, G)
        out.append(torch.topk(d, k, dim=1, largest=False).indices)
    return torch.cat(out) if out else torch.zeros(0, k, dtype=torch.long)


def knn_accuracy(query: torch.Tensor, query_labels: torch.Tensor, gallery: torch.Tensor,
                 gallery_labels: torch.Tensor, weights: torch.Tensor | None = None) -> float:
    """1-nearest-neighbour accuracy: each query takes the label of its closest gallery item."""
    idx = nearest(query, gallery, weights)[:, 0]
    return float((gallery_labels[idx] == query_labels).float().mean()) if len(idx) else 0.0


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
        float32 first, as `confusion_at` compares it with float32 distances."""
        t = float(np.float32(threshold))
        k = int(np.searchsorted(self.thresholds, t, side="right")) - 1
        k = max(k, 0)
        return float(self.fpr[k]), float(self.tpr[k])


def roc(distances: torch.Tensor, same: torch.Tensor) -> RocCurve:
    fpr, tpr, thr = roc_curve(distances, same)
    y = same.detach().cpu() > 0.5
    return RocCurve(fpr.numpy(), tpr.numpy(), thr.numpy(), curve_auc(fpr, tpr),
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
