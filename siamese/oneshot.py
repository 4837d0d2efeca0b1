"""One-shot classification with a verifier: a query against one reference per class, the
class of the most alike reference wins. `siamese.evaluate` scores models this way; the page's
One-shot tab ranks a drawn digit the same way.

    one_shot_accuracy(model.distance, emb, labels)     # 10-way, one random reference per class
    one_shot_ranking(cmp, query, refs, labels)         # the classes ranked for one query
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .data import NUM_CLASSES
from .pairs import one_shot_references

if TYPE_CHECKING:
    from .compare import Comparator


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
def one_shot_accuracy(distance, emb: torch.Tensor, labels: torch.Tensor, seed: int = 0,
                      chunk: int = 1000, classes=None, queries: torch.Tensor | None = None) -> float:
    """N-way one-shot accuracy: each item against one random other item per class
    (`pairs.one_shot_references`, from `seed`), predicted class = the nearest reference.
    distance: the model's own ((P, D), (P, D) -> (P,)), e.g. `SiameseNet.distance` or
    `Comparator.distance`; emb: (N, D) descriptors of the items, labels: (N,).
    classes: the candidate classes (default all ten: 10-way), e.g. only the digits a model
    never saw; queries: an optional (N,) bool mask of the items to score (references are still
    drawn from every item)."""
    classes = list(range(NUM_CLASSES)) if classes is None else [int(c) for c in classes]
    refs = one_shot_references(labels.cpu(), seed=seed, classes=classes).to(emb.device)  # (N, C)
    lab = labels.to(emb.device)
    cls = torch.tensor(classes, device=emb.device)
    rows = torch.arange(len(lab), device=emb.device)
    if queries is not None:
        rows = rows[queries.to(emb.device)]
    hits = 0
    for i in range(0, len(rows), chunk):  # (chunk, C, D) at a time: the whole is 200 MB
        q = rows[i : i + chunk]
        e, r = emb[q], refs[q]
        d = distance(e.unsqueeze(1).expand(-1, r.shape[1], -1), emb[r])  # (chunk, C)
        hits += int((cls[d.argmin(1)] == lab[q]).sum())
    return hits / max(len(rows), 1)
