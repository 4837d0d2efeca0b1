"""In-batch mining: partners picked by how far the model currently puts them, not at random.

Each function takes a batch's descriptors and labels and returns index tensors with the
signature of `pairs.partners` (pos, neg, pos_ok, neg_ok), so the losses stay as they are and
only the choice of partner changes. Distances are computed without gradient: mining chooses,
the loss (on the chosen pairs) learns.

- hard (batch-hard, Hermans, Beyer & Leibe 2017): the farthest image of the same digit and the
  closest image of another digit.
- semihard (FaceNet, Schroff et al. 2015): a random image of the same digit (`partners`), and
  the closest image of another digit that is farther than it; where none is, the farthest
  image of another digit (as TensorFlow Addons' triplet_semihard_loss does).
"""
from __future__ import annotations

import torch

from .pairs import partners


@torch.no_grad()
def pairwise_distances(emb: torch.Tensor) -> torch.Tensor:
    """(B, D) -> (B, B) Euclidean distances, in float32."""
    e = emb.float()
    return torch.cdist(e, e)


def _masks(labels: torch.Tensor):
    same = labels.unsqueeze(0) == labels.unsqueeze(1)  # (B, B)
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same  # positives (never itself), negatives


@torch.no_grad()
def hard_partners(emb: torch.Tensor, labels: torch.Tensor):
    """For each item the farthest positive and the closest negative in the batch.

    emb (B, D), labels (B,) -> (pos, neg, pos_ok, neg_ok), each (B,), as `pairs.partners`.
    """
    d = pairwise_distances(emb)
    pos_mask, neg_mask = _masks(labels)
    pos = torch.where(pos_mask, d, -1.0).argmax(1)  # distances are >= 0: -1 never wins
    neg = torch.where(neg_mask, d, float("inf")).argmin(1)
    return pos, neg, pos_mask.any(1), neg_mask.any(1)


@torch.no_grad()
def semihard_partners(emb: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None,
                      num_classes: int | None = None):
    """A random positive (`pairs.partners`), and the closest negative farther from the anchor
    than that positive; the farthest negative where no negative is farther.

    emb (B, D), labels (B,) -> (pos, neg, pos_ok, neg_ok), each (B,), as `pairs.partners`.
    """
    pos, _, pos_ok, neg_ok = partners(labels, generator, num_classes=num_classes)
    d = pairwise_distances(emb)
    _, neg_mask = _masks(labels)
    d_ap = d.gather(1, pos.unsqueeze(1))  # (B, 1)
    farther = neg_mask & (d > d_ap)
    closest_farther = torch.where(farther, d, float("inf")).argmin(1)
    farthest = torch.where(neg_mask, d, -1.0).argmax(1)
    neg = torch.where(farther.any(1), closest_farther, farthest)
    return pos, neg, pos_ok, neg_ok


def mine(mining: str, emb: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None,
         num_classes: int | None = None):
    """Partners for `TrainConfig.mining`: "random" (`pairs.partners`), "hard" or "semihard"."""
    if mining == "random":
        return partners(labels, generator, num_classes=num_classes)
    if mining == "hard":
        return hard_partners(emb, labels)
    if mining == "semihard":
        return semihard_partners(emb, labels, generator, num_classes)
    raise ValueError(f"unknown mining {mining!r}")
