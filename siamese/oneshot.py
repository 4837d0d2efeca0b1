"""One-shot classification with a verifier: a query against one reference per class, the
class of the most alike reference wins. `siamese.evaluate` scores models this way; the page's
One-shot tab ranks a drawn digit the same way.

    one_shot_accuracy(model.distance, emb, labels)     # 10-way, one random reference per class
    one_shot_ranking(cmp, query, refs, labels)         # the classes ranked for one query
    rank_references(cmp, image, reference_images)      # the same, from images (a drawing, a run)
    episode_accuracy(model.distance, refs, queries)    # Omniglot-style episodes, e.g. the 20 runs
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
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
    confidence: float  # the chance that this is *the* match, if exactly one is (match_confidence)


def match_confidence(log_odds: torch.Tensor) -> torch.Tensor:
    """(C,) the log-odds of 'same' of one query with each of C references -> (C,) the chance
    that each reference is the match, given that exactly one is: a softmax over the log-odds.
    (Bayes: reference i's posterior is proportional to the likelihood ratio of its distance,
    which is its odds of 'same' over the prior odds the model was calibrated with; the prior
    is the same for all and cancels. So it is a softmax over distances at the temperature of
    the model's own calibration.) Sums to 1: how sure the model is among these references,
    not whether the query belongs to any of them."""
    return torch.softmax(log_odds.double(), 0).float()


def one_shot_ranking(comparator: Comparator, query: torch.Tensor, references: torch.Tensor,
                     labels) -> list[Ranked]:
    """A verifier used as a classifier: the query descriptor (1, D) or (D,) against one
    reference descriptor per class (C, D); the classes ranked by same-probability, most
    likely first (distance breaks ties; the two agree for every model here), each with its
    `match_confidence`."""
    q = query.reshape(1, -1).expand(references.shape[0], -1)
    d = comparator.distance(q, references).float().cpu()
    p = comparator.same_probability(q, references).float().cpu()
    conf = match_confidence(comparator.same_log_odds(q, references).cpu())
    out = [Ranked(int(c), float(di), float(pi), float(ci)) for c, di, pi, ci in zip(labels, d, p, conf)]
    return sorted(out, key=lambda r: (-r.same_probability, r.distance))


def rank_references(comparator: Comparator, query, references, labels=None) -> list[Ranked]:
    """`one_shot_ranking` from images: a query against one reference per class, each as
    `Comparator.embed` takes them: references a list of images (each through `to_mnist`) or
    an MNIST-format (C, 28, 28) batch (a run's references, say); the query one image, or one
    MNIST-format (28, 28) array or tensor. labels: the classes (default 0..C-1)."""
    mnist_format = isinstance(query, (np.ndarray, torch.Tensor)) and tuple(query.shape) == (28, 28)
    q = comparator.embed(query[None] if mnist_format else [query])  # (1, D)
    refs = comparator.embed(references)  # (C, D)
    return one_shot_ranking(comparator, q, refs, range(len(refs)) if labels is None else labels)


@dataclass
class Episodes:
    """Fixed within-group one-shot episodes on a set of images (`pairs.draw_episodes`): the
    validation score of a model trained on Omniglot, made like the 20 runs it is tested on."""

    images: torch.Tensor  # (M, 28, 28) uint8
    references: torch.Tensor  # (E, W) indices into images: one drawing of each of W classes
    queries: torch.Tensor  # (E, W): query j is another drawing of reference j's class

    @property
    def way(self) -> int:
        return self.references.shape[1]

    def accuracy(self, distance, emb: torch.Tensor) -> torch.Tensor:
        """emb (M, D): descriptors of `images` -> (E,) each episode's accuracy."""
        return episode_accuracy(distance, emb[self.references], emb[self.queries])


@torch.inference_mode()
def episode_accuracy(distance, references: torch.Tensor, queries: torch.Tensor,
                     answers: torch.Tensor | None = None, chunk: int = 16) -> torch.Tensor:
    """One-shot episodes scored: every query against every reference of its episode, the
    nearest reference's class predicted.

    references (E, W, D), queries (E, Q, D): descriptors; answers (E, Q): the position of each
    query's class among its episode's references (default: query j is of reference j's class,
    Q = W). distance: the model's own, on (..., D) pairs. Returns (E,) accuracies."""
    E, W, D = references.shape
    Q = queries.shape[1]
    if answers is None:
        answers = torch.arange(W).expand(E, W)
    answers = answers.to(references.device)
    out = []
    for i in range(0, E, chunk):  # (chunk, Q, W, D) at a time
        r, q = references[i : i + chunk], queries[i : i + chunk]
        n = len(r)
        d = distance(q.unsqueeze(2).expand(n, Q, W, D), r.unsqueeze(1).expand(n, Q, W, D))  # (n, Q, W)
        out.append((d.argmin(-1) == answers[i : i + chunk]).float().mean(1))
    return torch.cat(out) if out else torch.zeros(0)


def runs_accuracy(embed, distance, runs) -> torch.Tensor:
    """Omniglot's one-shot runs (`omniglot.OneShotRun`: references (W, 28, 28), queries
    (Q, 28, 28), answers (Q,)) scored: embed maps (N, 28, 28) uint8 to (N, D) descriptors,
    distance is the model's. Returns (R,) each run's accuracy over its queries."""
    refs = torch.stack([r.references for r in runs])  # (R, W, 28, 28)
    queries = torch.stack([r.queries for r in runs])  # (R, Q, 28, 28)
    answers = torch.stack([r.answers for r in runs])  # (R, Q)
    (R, W), Q = refs.shape[:2], queries.shape[1]
    emb = embed(torch.cat([refs.flatten(0, 1), queries.flatten(0, 1)]))  # (R W + R Q, D)
    return episode_accuracy(distance, emb[: R * W].reshape(R, W, -1), emb[R * W :].reshape(R, Q, -1), answers)


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
