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


SPLITS = ("seen", "unseen", "mixed")


def _within(labels: torch.Tensor, idx: torch.Tensor, seed: int):
    """fixed_pairs among the items `idx` (CPU), as indices into the whole `labels`."""
    if not len(idx):
        return idx, idx, torch.zeros(0)
    a, b, same = fixed_pairs(labels[idx], seed)
    return idx[a], idx[b], same


def split_pairs(labels: torch.Tensor, unseen, seed: int = 0) -> dict:
    """Fixed evaluation pairs by split, for a model trained without the digits `unseen`.

    - "seen": among items of seen digits only, each once with a same-digit and once with a
      different-digit seen item (`fixed_pairs` on them).
    - "unseen": the same among items of the unseen digits only: both digits are ones the model
      never saw. Balanced when at least two digits are unseen (with one, there are no
      different pairs).
    - "mixed": each unseen item once with a random *seen* item (the one-seen-one-unseen pairs,
      all different) and once with another item of its own unseen digit (the "unseen" split's
      kind of same pair). Balanced, so accuracy and ROC AUC read like the other splits': does
      an unseen digit look more like itself than like the digits the model learned?

    labels: (N,) digits. Returns {split: (a, b, same)} with (P,) indices into `labels` and a
    (P,) float target (1 = same digit), same pairs first within each split, on the labels'
    device; drawn on the CPU from `seed`, so every run scores the same pairs.
    """
    lab = labels.cpu()
    unseen_t = torch.tensor(sorted(int(d) for d in unseen), dtype=lab.dtype)
    is_unseen = torch.isin(lab, unseen_t)
    seen_idx, unseen_idx = torch.nonzero(~is_unseen).squeeze(1), torch.nonzero(is_unseen).squeeze(1)
    out = {"seen": _within(lab, seen_idx, seed), "unseen": _within(lab, unseen_idx, seed)}
    if not len(unseen_idx):
        out["mixed"] = out["unseen"]  # empty
        return {k: tuple(t.to(labels.device) for t in v) for k, v in out.items()}
    g = torch.Generator().manual_seed(seed)
    pos, _, pos_ok, _ = partners(lab[unseen_idx], g)  # same-digit partners among unseen items
    pick = torch.randint(0, max(len(seen_idx), 1), (len(unseen_idx),), generator=g)
    anchors = unseen_idx[pos_ok]
    neg = seen_idx[pick] if len(seen_idx) else unseen_idx[:0]
    a = torch.cat([anchors, unseen_idx[: len(neg)]])
    b = torch.cat([unseen_idx[pos[pos_ok]], neg])
    same = torch.cat([torch.ones(len(anchors)), torch.zeros(len(neg))])
    out["mixed"] = (a, b, same)
    return {k: tuple(t.to(labels.device) for t in v) for k, v in out.items()}


def one_shot_references(labels: torch.Tensor, num_classes: int = 10, seed: int = 0,
                        classes=None) -> torch.Tensor:
    """For each item, one random reference item of every class (never the item itself).

    classes: the classes to draw references of (default: 0..num_classes-1), e.g. only the
    digits a model never saw. Returns (N, C) indices into `labels`: column j holds an item of
    class classes[j].
    """
    g = torch.Generator().manual_seed(seed)
    lab = labels.cpu()
    n = lab.shape[0]
    classes = list(range(num_classes)) if classes is None else [int(c) for c in classes]
    refs = torch.empty(n, len(classes), dtype=torch.long)
    for j, c in enumerate(classes):
        members = torch.nonzero(lab == c).squeeze(1)  # (M,)
        m = members.shape[0]
        if m < 2:
            raise ValueError(f"class {c} needs at least two items for one-shot references")
        pick = torch.randint(0, m, (n,), generator=g)
        # An item of class c must not be its own reference: step past it to the next member.
        clash = members[pick] == torch.arange(n)
        pick = torch.where(clash, (pick + 1) % m, pick)
        refs[:, j] = members[pick]
    return refs.to(labels.device)


def draw_episodes(labels: torch.Tensor, groups: torch.Tensor, drawers: torch.Tensor, count: int,
                  way: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed N-way one-shot episodes within groups, the way Omniglot's 20 runs are made: each
    picks a group (an alphabet; the groups take turns), `way` of its classes and two drawers who
    drew all of them; one drawer's drawings are the references, the other's the queries.

    labels, groups, drawers: (N,) class, group and drawer of each item. Returns (refs, queries),
    each (count, way) indices into `labels`: queries[e, j] is another drawing of the class of
    refs[e, j]. Drawn on the CPU from `seed`, so every run and model meets the same episodes.
    ValueError when no group has `way` classes drawn by two common drawers.
    """
    g = torch.Generator().manual_seed(seed)
    lab, grp, drw = labels.cpu().tolist(), groups.cpu().tolist(), drawers.cpu().tolist()
    where: dict[tuple[int, int], int] = {}
    for i, key in enumerate(zip(lab, drw)):
        where.setdefault(key, i)  # (class, drawer) -> its first item
    classes: dict[int, list[int]] = {}
    drawn_by: dict[int, set[int]] = {}
    for c, grp_c, d in zip(lab, grp, drw):
        if c not in drawn_by:
            classes.setdefault(grp_c, []).append(c)
            drawn_by[c] = set()
        drawn_by[c].add(d)
    usable = sorted(k for k, cs in classes.items() if len(cs) >= way)
    if not usable:
        raise ValueError(f"no group has {way} classes for {way}-way episodes")
    refs, queries = [], []
    for e in range(count):
        cs = classes[usable[e % len(usable)]]
        chosen = [cs[int(i)] for i in torch.randperm(len(cs), generator=g)[:way]]
        common = sorted(set.intersection(*(drawn_by[c] for c in chosen)))
        if len(common) < 2:
            raise ValueError(f"the classes {chosen} have fewer than two drawers in common")
        d_ref, d_query = (common[int(i)] for i in torch.randperm(len(common), generator=g)[:2])
        refs.append([where[(c, d_ref)] for c in chosen])
        queries.append([where[(c, d_query)] for c in chosen])
    return (torch.tensor(refs, dtype=torch.long).reshape(count, way),
            torch.tensor(queries, dtype=torch.long).reshape(count, way))


def episode_pairs(references: torch.Tensor, queries: torch.Tensor):
    """Balanced pairs from one-shot episodes (`draw_episodes`): each reference once with the
    query of its own class and once with a query of another class of its episode (the one
    1 + e % (W - 1) places along in episode e), so the different pairs are within a group, as
    hard as the episodes'. references, queries: (E, W) indices. Returns (a, b, same) like
    `batch_pairs`: (2 E W,) indices and targets, same pairs first."""
    E, W = references.shape
    along = 1 + torch.arange(E, device=queries.device) % max(W - 1, 1)  # (E,)
    other = (torch.arange(W, device=queries.device).unsqueeze(0) + along.unsqueeze(1)) % W  # (E, W)
    a = torch.cat([references.flatten(), references.flatten()])
    b = torch.cat([queries.flatten(), queries.gather(1, other).flatten()])
    same = torch.cat([torch.ones(E * W), torch.zeros(E * W)]).to(queries.device)
    return a, b, same


class ClassBatches:
    """Class-balanced batches ("P x K" sampling, Hermans et al. 2017): P random classes, K
    distinct random items of each. With hundreds of classes (Omniglot's characters in turns), a
    random batch holds few same-class pairs; these hold K - 1 for every item.

    labels: (N,) class of each item, on the device batches are drawn on. Classes with fewer
    than K items are never drawn. reserved: classes (e.g. the digits among Omniglot's
    characters) that a call may ask a fixed number of, drawn apart from the others."""

    def __init__(self, labels: torch.Tensor, per_class: int, reserved=None):
        counts = torch.bincount(labels)  # (C,)
        self.order = torch.argsort(labels, stable=True)  # (N,) items grouped by class
        self.starts, self.counts = torch.cumsum(counts, 0) - counts, counts
        self.classes = torch.nonzero(counts >= per_class).squeeze(1)  # (C',) the classes drawn from
        is_reserved = torch.isin(self.classes, torch.as_tensor(list(reserved or ()), dtype=self.classes.dtype,
                                                                device=self.classes.device))
        self.reserved, self.classes = self.classes[is_reserved], self.classes[~is_reserved]
        self.per_class, self.most = per_class, int(counts.max())

    def __call__(self, num_classes: int, generator: torch.Generator | None = None, reserved: int = 0) -> torch.Tensor:
        """(num_classes * K,) item indices, class by class: `reserved` of the classes (as many
        as there are, at most) from the reserved ones, first, and the rest from the others."""
        dev = self.order.device
        r = min(reserved, len(self.reserved))
        pick = self.classes[torch.randperm(len(self.classes), device=dev, generator=generator)[:num_classes - r]]  # (P,)
        if r:
            pick = torch.cat([self.reserved[torch.randperm(len(self.reserved), device=dev, generator=generator)[:r]],
                              pick])
        # K distinct positions inside each class block: the K smallest of uniform keys, where
        # positions past the class's size get a key that never wins.
        keys = torch.rand(len(pick), self.most, device=dev, generator=generator)  # (P, M)
        keys = keys.masked_fill(torch.arange(self.most, device=dev) >= self.counts[pick].unsqueeze(1), 2.0)
        offsets = keys.argsort(1)[:, : self.per_class]  # (P, K)
        return self.order[self.starts[pick].unsqueeze(1) + offsets].flatten()
