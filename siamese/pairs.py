"""Pair and triplet samplers. They take labels and return index tensors, all vectorised on the
labels' device (no per-item Python).

The core is `partners`: for every item, one random other item of the same class and one of a
different class, as the blog does for each anchor. Training applies it inside a batch (so every
image in the batch is embedded once and used in several pairs); evaluation applies it to the
whole test set with a fixed seed.
"""
from __future__ import annotations

import torch


def partners(labels: torch.Tensor, generator: torch.Generator | None = None,
             num_classes: int | None = None):
    """For each item i, a uniformly random positive j != i with labels[j] == labels[i] and a
    uniformly random negative k with labels[k] != labels[i].

    labels: (N,) integers in [0, num_classes). Returns (pos, neg, pos_ok, neg_ok), each (N,):
    indices into `labels`, and masks that are False where no such partner exists (a class seen
    once, or a batch of a single class); the index there is arbitrary but valid. With
    `num_classes` given, every tensor has a fixed size and nothing waits on the device.
    """
    n = labels.shape[0]
    dev = labels.device
    k = num_classes if num_classes is not None else int(labels.max()) + 1
    counts = torch.zeros(k, dtype=torch.long, device=dev).scatter_add_(0, labels, torch.ones_like(labels))
    starts = torch.cumsum(counts, 0) - counts  # (K,) first sorted position of each class
    order = torch.argsort(labels, stable=True)  # (N,) items grouped by class
    start, count = starts[labels], counts[labels]  # (N,) each item's class block
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n, device=dev)
    rank = rank - start  # position of each item within its class block

    u = torch.rand(n, 2, device=dev, generator=generator)  # (N, 2)
    # Positive: step 1..count-1 places along the class block, wrapping, never landing on itself.
    step = 1 + (u[:, 0] * (count - 1)).long().clamp_max((count - 2).clamp_min(0))
    pos = order[start + (rank + step) % count]
    # Negative: a uniform pick among the n - count items outside the class block.
    others = n - count
    r = (u[:, 1] * others).long().clamp_max((others - 1).clamp_min(0))
    neg = order[torch.where(r < start, r, r + count).clamp_max(n - 1)]
    return pos, neg, count > 1, others > 0


def batch_pairs(labels: torch.Tensor, generator: torch.Generator | None = None):
    """Balanced pairs inside a batch: one positive and one negative per anchor.

    Returns (a, b, same): (P,) index tensors into the batch and a (P,) float target (1 = same
    digit), positives first. Anchors without a partner of a kind contribute no pair of it.
    """
    pos, neg, pos_ok, neg_ok = partners(labels, generator)
    idx = torch.arange(labels.shape[0], device=labels.device)
    a = torch.cat([idx[pos_ok], idx[neg_ok]])
    b = torch.cat([pos[pos_ok], neg[neg_ok]])
    same = torch.cat([torch.ones_like(a[: int(pos_ok.sum())], dtype=torch.float32),
                      torch.zeros_like(a[: int(neg_ok.sum())], dtype=torch.float32)])
    return a, b, same


def batch_triplets(labels: torch.Tensor, generator: torch.Generator | None = None):
    """(anchor, positive, negative) index tensors into the batch, one triplet per anchor that has
    both kinds of partner."""
    pos, neg, pos_ok, neg_ok = partners(labels, generator)
    ok = pos_ok & neg_ok
    idx = torch.arange(labels.shape[0], device=labels.device)
    return idx[ok], pos[ok], neg[ok]


def fixed_pairs(labels: torch.Tensor, seed: int = 0):
    """The evaluation pairs: each item paired once with a same-class item and once with a
    different-class item, drawn from `seed` on the CPU so every run and device gets the same
    pairs. For the 10,000 MNIST test images and seed 0 that is the 20,000 standard test pairs.

    Returns (a, b, same) like `batch_pairs`, on the labels' device.
    """
    g = torch.Generator().manual_seed(seed)
    a, b, same = batch_pairs(labels.cpu(), g)
    return a.to(labels.device), b.to(labels.device), same.to(labels.device)


def one_shot_references(labels: torch.Tensor, num_classes: int = 10, seed: int = 0) -> torch.Tensor:
    """For each item, one random reference item of every class (never the item itself).

    Returns (N, num_classes) indices into `labels`: column c holds an item of class c.
    """
    g = torch.Generator().manual_seed(seed)
    lab = labels.cpu()
    n = lab.shape[0]
    refs = torch.empty(n, num_classes, dtype=torch.long)
    for c in range(num_classes):
        members = torch.nonzero(lab == c).squeeze(1)  # (M,)
        m = members.shape[0]
        if m < 2:
            raise ValueError(f"class {c} needs at least two items for one-shot references")
        pick = torch.randint(0, m, (n,), generator=g)
        # An item of class c must not be its own reference: step past it to the next member.
        clash = members[pick] == torch.arange(n)
        pick = torch.where(clash, (pick + 1) % m, pick)
        refs[:, c] = members[pick]
    return refs.to(labels.device)
