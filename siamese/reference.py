"""One model's view of the MNIST test set, for putting a single comparison in context.

    ref = Reference.from_data_dir(cmp)           # embeds the 10,000 test digits once
    ref.nearest(np.stack([a28, b28]), k=8)       # each digit's closest test digits
    ref.same_distances, ref.different_distances  # the 20,000 fixed test pairs, split by class
    ref.confusion_at(threshold)                  # how those pairs fare at a threshold

The pairs are `fixed_pairs(test labels, seed)`, the ones the checkpoint's metrics were computed
on, and distances are the model's own (`Comparator.distance`), so a pair's distance, the
threshold and both distributions live on one axis.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from . import metrics as M
from .compare import Comparator
from .data import load_mnist
from .pairs import fixed_pairs


@dataclass
class Neighbour:
    index: int  # position in the MNIST test set
    label: int
    distance: float  # under the model's metric, like Comparison.distance
    image: np.ndarray  # (28, 28) uint8, white digit on black


class Reference:
    """Test-set embeddings and fixed-pair distances of one Comparator. Build once per model
    (a few seconds on CPU), then every query is a single small matmul."""

    def __init__(self, comparator: Comparator, images: torch.Tensor, labels: torch.Tensor,
                 seed: int = 0, fast: bool | None = None, stop: threading.Event | None = None):
        """images: (N, 28, 28) uint8 white-on-black; labels: (N,) int. `fast` is passed to
        `Comparator.embed` (None: bf16 where the hardware has it, about 2x faster on this AMX
        CPU; accuracy on the fixed test pairs is unchanged to four digits). `stop`: see
        `Comparator.embed` (raises EmbeddingStopped once set)."""
        self.comparator = comparator
        self.images = images.cpu()
        self.labels = labels.cpu().long()
        emb = comparator.embed(self.images, fast=fast, stop=stop)
        self.embeddings = emb.float()  # (N, D) on the comparator's device
        a, b, same = fixed_pairs(self.labels, seed)
        d = comparator.distance(self.embeddings[a.to(emb.device)], self.embeddings[b.to(emb.device)])
        d = d.float().cpu()
        self.pair_distances = d  # (2N,) tensor, positives first
        self.pair_same = same.cpu()  # (2N,) float, 1 = same digit
        self.same_distances = d[same > 0.5].numpy()
        self.different_distances = d[same < 0.5].numpy()

    @classmethod
    def from_data_dir(cls, comparator: Comparator, data_dir=None, download: bool = False,
                      **kwargs) -> "Reference":
        """Load the MNIST test split (raises siamese.data.DataUnavailableError) and build."""
        test = load_mnist(data_dir, "cpu", download=download).test
        return cls(comparator, test.images, test.labels, **kwargs)

    def __len__(self) -> int:
        return len(self.labels)

    @torch.inference_mode()
    def nearest(self, images: np.ndarray, k: int = 8) -> list[list[Neighbour]]:
        """(Q, 28, 28) float images in [0, 1] (what `to_mnist` returns) -> for each, its k
        nearest test digits, closest first."""
        return self.nearest_to(self.comparator.embed(np.asarray(images, dtype=np.float32)), k)

    @torch.inference_mode()
    def nearest_to(self, q: torch.Tensor, k: int = 8) -> list[list[Neighbour]]:
        """(Q, D) descriptors (`Comparator.embed`) -> for each, its k nearest test digits."""
        k = min(k, len(self))
        weights = self.comparator.model.metric_weights()
        idx = M.nearest(q, self.embeddings, None if weights is None else weights.detach(), k)  # (Q, k)
        out = []
        for qi, row in enumerate(idx.cpu()):
            d = self.comparator.distance(q[qi : qi + 1].expand(k, -1), self.embeddings[row.to(q.device)])
            out.append([
                Neighbour(int(i), int(self.labels[i]), float(di), self.images[i].numpy())
                for i, di in zip(row.tolist(), d.float().cpu().tolist())
            ])
        return out

    def confusion_at(self, threshold: float) -> dict:
        """Accuracy, precision, recall and counts of 'same if distance <= threshold' on the
        fixed test pairs."""
        return M.confusion_at(self.pair_distances, self.pair_same, threshold)

    def distance_range(self, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
        """The span holding all but the extreme tails of the pair distances (percentiles)."""
        lo, hi = np.percentile(self.pair_distances.numpy(), [low, high])
        return float(lo), float(hi)

    def histogram(self, lo: float, hi: float, bins: int = 40):
        """Densities of same-class and different-class pair distances over [lo, hi] (values
        outside are counted in the end bins). Returns (edges (bins + 1,), same (bins,),
        different (bins,)), each density integrating to 1 over the range."""
        edges = np.linspace(lo, hi, bins + 1)
        width = (hi - lo) / bins
        dens = []
        for x in (self.same_distances, self.different_distances):
            counts, _ = np.histogram(np.clip(x, lo, hi), bins=edges)
            dens.append(counts / max(counts.sum(), 1) / width)
        return edges, dens[0], dens[1]
