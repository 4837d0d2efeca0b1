"""The training losses. Each takes embeddings (and index tensors from `pairs` or `mining`), not images.

- bce: the blog's loss. The head turns (a - b)^2 into 2 logits (different, same); cross-entropy
  on one positive and one negative pair per anchor, the two means added.
- contrastive (Hadsell, Chopra, LeCun 2006): same pairs pulled to distance 0, different pairs
  pushed beyond the margin: mean_pos d^2 + mean_neg max(0, m - d)^2.
- triplet (Schroff et al. 2015, as in the blog): mean max(0, d(a, p) - d(a, n) + m).
- all pairs (`mining="all"`, bce or contrastive): the same losses on every pair of the batch,
  B(B-1)/2 of them from B descriptors, computed from a (B, B) matrix without forming B^2 pairs.
- supcon (supervised contrastive, Khosla et al. 2020): every pair of the batch at once. For
  each anchor, a softmax over its cosine similarities to all other items (divided by a
  temperature); the loss is minus the mean log-probability of its same-digit items.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def distance(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Euclidean distance between rows: (..., D), (..., D) -> (...). The eps keeps the gradient
    finite at d = 0 (identical embeddings)."""
    return (a - b).pow(2).sum(-1).clamp_min(eps).sqrt()


def _balanced_mean(per_pair: torch.Tensor, same: torch.Tensor,
                   valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the positive pairs plus mean over the negative pairs (an empty kind adds 0).

    `valid` (P,) masks pairs out by weight, not by indexing, so no device sync is needed.
    """
    w = torch.ones_like(per_pair) if valid is None else valid.to(per_pair.dtype)
    pos = w * (same > 0.5).to(per_pair.dtype)
    neg = w * (same <= 0.5).to(per_pair.dtype)
    return ((per_pair * pos).sum() / pos.sum().clamp_min(1.0)
            + (per_pair * neg).sum() / neg.sum().clamp_min(1.0))


def bce_loss(logits: torch.Tensor, same: torch.Tensor,
             valid: torch.Tensor | None = None) -> torch.Tensor:
    """logits (P, 2) from the head [different, same]; same (P,) in {0, 1}."""
    per_pair = F.cross_entropy(logits.float(), same.long(), reduction="none")
    return _balanced_mean(per_pair, same, valid)


def distance_matrix(emb: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """(B, D) -> (B, B) Euclidean distances, differentiable everywhere (the eps keeps the
    gradient finite where two descriptors coincide, as `distance` does)."""
    e = emb.float()
    sq = (e * e).sum(1)
    return (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * e @ e.T).clamp_min(eps).sqrt()


def all_pairs_loss(diff: torch.Tensor, labels: torch.Tensor, loss: str, margin: float = 1.0) -> torch.Tensor:
    """Every pair (i < j) of a batch at once, same and different pairs weighted equally.

    diff (B, B): for bce, the head's logit(same) - logit(different) of each pair (the
    cross-entropy on its 2 logits is the logistic loss on their difference); for contrastive,
    the pair's Euclidean distance. labels (B,).
    """
    i, j = torch.triu_indices(len(labels), len(labels), 1, device=labels.device)
    same = (labels[i] == labels[j]).to(torch.float32)
    x = diff[i, j].float()  # (P,), P = B(B-1)/2
    if loss == "bce":
        per_pair = F.binary_cross_entropy_with_logits(x, same, reduction="none")
    else:
        per_pair = torch.where(same > 0.5, x.pow(2), F.relu(margin - x).pow(2))
    return _balanced_mean(per_pair, same)


def contrastive_loss(emb_a: torch.Tensor, emb_b: torch.Tensor, same: torch.Tensor,
                     margin: float = 1.0, valid: torch.Tensor | None = None) -> torch.Tensor:
    """emb_a, emb_b (P, D); same (P,) in {0, 1}."""
    d = distance(emb_a.float(), emb_b.float())
    per_pair = torch.where(same > 0.5, d.pow(2), F.relu(margin - d).pow(2))
    return _balanced_mean(per_pair, same, valid)


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 1.0, valid: torch.Tensor | None = None) -> torch.Tensor:
    """anchor, positive, negative (T, D)."""
    d_ap = distance(anchor.float(), positive.float())
    d_an = distance(anchor.float(), negative.float())
    per = F.relu(d_ap - d_an + margin)
    w = torch.ones_like(per) if valid is None else valid.to(per.dtype)
    return (per * w).sum() / w.sum().clamp_min(1.0)


def supcon_loss(emb: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """emb (B, D) (normalised here, so any scale will do), labels (B,).

    mean over anchors with a positive of  -1/|P(i)| sum_{p in P(i)} log softmax_{j != i}(s_ij / t)[p]
    with s_ij the cosine similarity. Anchors without a positive in the batch add nothing.
    """
    z = F.normalize(emb.float(), dim=-1)
    sim = z @ z.T / temperature  # (B, B)
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    log_prob = sim.masked_fill(eye, float("-inf")).log_softmax(dim=1).masked_fill(eye, 0.0)
    pos = ((labels.unsqueeze(0) == labels.unsqueeze(1)) & ~eye).to(z.dtype)  # (B, B)
    n_pos = pos.sum(1)  # (B,)
    per_anchor = -(log_prob * pos).sum(1) / n_pos.clamp_min(1.0)
    has = (n_pos > 0).to(z.dtype)
    return (per_anchor * has).sum() / has.sum().clamp_min(1.0)
