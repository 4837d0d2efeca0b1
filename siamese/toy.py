"""The three training losses on a 2-D toy: three points A (anchor), P (same digit) and N
(another digit), each loss's value by the real `siamese.losses` function and its gradient with
respect to each point by autograd. The page's Losses tab draws them as arrows.

    toy_losses(points, "triplet", 1.0)   # ToyLoss: value, gradients, pull and push parts
    toy_step(points, "bce")              # one gradient-descent step of the points
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import losses as L


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
