"""Everything the teaching views need from one model's `Reference`, computed on first use and
kept (no Gradio here):

    lessons = Lessons.of(ref)          # cheap; each part is computed on first use, then kept
    lessons.map("pca")                 # EmbeddingMap: test digits in 2-D, MAP_PER_CLASS per class
    lessons.map("tsne")                # the same digits by t-SNE (seconds on a CPU, so cache it)
    lessons.roc()                      # RocCurve over the fixed test pairs
    lessons.worst_pairs(k=8)           # same pairs farthest apart, different pairs closest
    lessons.one_shot_accuracy()        # 10-way, as `siamese.evaluate` measures it
    lessons.one_shot_accuracy([7, 8, 9])  # 3-way among those digits only

A `Lessons` keeps only a weak reference to its `Reference`, so a cache of them (keyed by the
Reference) never keeps a model's test embeddings alive after the page drops them.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np
import torch

from siamese.data import NUM_CLASSES
from siamese.metrics import PairExample, RocCurve, roc, worst_pairs
from siamese.oneshot import one_shot_accuracy
from siamese.pairs import fixed_pairs
from siamese.projection import MAP_PER_CLASS, PCA2, EmbeddingMap, map_features, stratified_sample, tsne


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

    def one_shot_accuracy(self, classes=None) -> float:
        """10-way: the model's own measured value (checkpoint metrics) when it has one;
        otherwise measured here on the test set, as evaluate does. classes: N-way among those
        digits only (e.g. the ones the model never saw), references and queries alike."""
        full = classes is None or sorted({int(c) for c in classes}) == list(range(NUM_CLASSES))
        if not full:
            classes = sorted({int(c) for c in classes})

            def make_some():
                ref = self.reference
                # Those digits' test items only, as siamese.evaluate's "unseen" split does: the
                # same figure as its table for a model's unseen digits.
                keep = torch.isin(ref.labels, torch.tensor(classes, device=ref.labels.device))
                return one_shot_accuracy(ref.comparator.distance, ref.embeddings[keep.to(ref.embeddings.device)],
                                         ref.labels[keep], classes=classes)
            return self._get("one_shot_accuracy:" + ",".join(map(str, classes)), make_some)

        def make():
            ref = self.reference
            measured = ref.comparator.metrics.get("one_shot_accuracy")
            if measured is not None:
                return float(measured)
            return one_shot_accuracy(ref.comparator.distance, ref.embeddings, ref.labels)
        return self._get("one_shot_accuracy", make)
