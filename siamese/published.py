"""Published accuracies on the one-shot tests `siamese.evaluate --omniglot-runs` runs, to read a
model's figures beside: Omniglot's 20 runs (20-way within-alphabet one-shot, 400 trials) and
MNIST 10-way one-shot for models that never saw a digit.

Each row: (who, accuracies, source); two accuracies where the source gives two (one per minimal
background set).
"""
from __future__ import annotations

OMNIGLOT_RUNS = (
    ("people", (0.955,), "Lake et al. 2015"),
    ("Bayesian Program Learning, minimal sets", (0.957, 0.960), "Lake et al. 2015"),
    ("siamese convnet, 30 alphabets", (0.920,), "Koch et al. 2015"),
    ("deep convnet, one minimal set", (0.760, 0.777), "Lake et al. 2015"),
    ("modified Hausdorff distance", (0.612,), "Lake et al. 2015"),
)
MNIST_ONE_SHOT = (
    ("Matching Networks, trained on Omniglot", (0.72,), "Vinyals et al. 2016"),
    ("siamese convnet, trained on Omniglot", (0.703,), "Koch et al. 2015"),
    ("1-nearest neighbour on pixels", (0.265,), "Koch et al. 2015"),
)


def table(rows, ours: float, label: str = "this model") -> list[str]:
    """The published rows and this model's accuracy as text lines, best first."""
    entries = [(max(acc), " / ".join(f"{a:.1%}" for a in acc), f"{who} ({src})") for who, acc, src in rows]
    entries.append((ours, f"{ours:.1%}", f"{label} <--"))
    width = max(len(e[1]) for e in entries)
    return [f"  {text:>{width}}  {who}" for _, text, who in sorted(entries, key=lambda e: -e[0])]


def as_dicts(rows) -> list[dict]:
    """The rows for JSON."""
    return [{"who": who, "accuracy": list(acc), "source": src} for who, acc, src in rows]
