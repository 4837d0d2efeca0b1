"""The two models the "Your symbols" tab and /one_shot rank with, each loaded once:

- "symbols": a network trained on Omniglot's handwritten characters (checkpoints/siamese_omniglot.pt,
  or $SIAMESE_SYMBOLS_CHECKPOINT); when it cannot be loaded the tab and the API say why;
- "digits": the page's pretrained digit model (the shipped one, whatever a session retrained).

and how each ranks the project's own hand-drawn symbols (demo.symbol_examples), 10-way one-shot:
measured once per model in the background at start, for the tab to show beside the ranking.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import torch

from siamese import Comparator
from siamese.checkpoint import CheckpointError
from siamese.oneshot import episode_accuracy

from .. import symbol_examples as drawn

SYMBOLS, DIGITS = "symbols", "digits"
CHOICES = (SYMBOLS, DIGITS)
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "siamese_omniglot.pt"
# The test the tab quotes: every symbol drawn VARIATIONS times; TRIALS random choices of one
# reference drawing per symbol, every other drawing a query against them (90 queries a trial).
VARIATIONS, TRIALS = 10, 100
KEPT_DESCRIPTORS = 4096  # (model, drawing) descriptors kept for every session: 2 kB each at D = 512
log = logging.getLogger(__name__)


class ModelUnavailable(LookupError):
    """The model asked for is not on this server; the message says why, for people."""


def episodes(names: int, variations: int, trials: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """`trials` one-shot episodes over names x variations drawings, drawing c * variations + k
    being variation k of symbol c: in each, one random variation of every symbol is its
    reference and all the others are queries. Returns references (E, W), queries (E, Q) as
    drawing numbers, and answers (E, Q), each query's symbol; W = names, Q = names * (variations - 1)."""
    g = torch.Generator().manual_seed(seed)
    picks = torch.randint(variations, (trials, names), generator=g)  # (E, W)
    refs = torch.arange(names) * variations + picks
    drawing = torch.arange(names * variations)
    queries = torch.stack([drawing[~torch.isin(drawing, r)] for r in refs])  # (E, Q)
    return refs, queries, queries // variations


def handdrawn_accuracy(cmp: Comparator, variations: int = VARIATIONS, trials: int = TRIALS, seed: int = 0) -> float:
    """10-way one-shot top-1 accuracy of `cmp` on the project's hand-drawn symbols (`episodes`)."""
    images = np.stack([cmp.preprocess(np.asarray(drawn.draw_symbol(name, k)))
                       for name in drawn.NAMES for k in range(variations)])  # (W V, 28, 28)
    emb = cmp.embed(images)  # (W V, D)
    refs, queries, answers = episodes(len(drawn.NAMES), variations, trials, seed)
    return float(episode_accuracy(cmp.distance, emb[refs], emb[queries], answers).mean())


class SymbolModels:
    """The tab's two models by name (CHOICES), and their measured accuracy on drawn symbols."""

    def __init__(self, digits: Comparator, symbols: Comparator | None, missing: str | None = None):
        self._comparators = {DIGITS: digits, SYMBOLS: symbols}
        self.missing = missing  # why there is no symbols model, for people; None when there is one
        self._measured: dict[str, Future] = {}
        self._descriptors: OrderedDict[tuple[str, str], torch.Tensor] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    @classmethod
    def load(cls, digits: Comparator, path=None) -> "SymbolModels":
        """The symbols model from `path` (default: $SIAMESE_SYMBOLS_CHECKPOINT or
        checkpoints/siamese_omniglot.pt); one that cannot be loaded is noted, not raised."""
        path = Path(path or os.environ.get("SIAMESE_SYMBOLS_CHECKPOINT") or DEFAULT_CHECKPOINT)
        try:
            return cls(digits, Comparator.from_checkpoint(path))
        except FileNotFoundError:
            why = f"{_shown(path)} is missing"
        except CheckpointError as e:
            why = f"{_shown(path)} could not be loaded: {e}"
        log.warning("no symbols model: %s", why)
        return cls(digits, None, why)

    def available(self, name: str) -> bool:
        return self._comparators.get(name) is not None

    def comparator(self, name: str) -> Comparator:
        """The model called `name` ("symbols" or "digits"); ModelUnavailable when unknown or missing."""
        if name not in CHOICES:
            raise ModelUnavailable(f"unknown model {name!r}: choose \"symbols\" or \"digits\"")
        cmp = self._comparators[name]
        if cmp is None:
            raise ModelUnavailable(f"the symbols model is not on this server ({self.missing}); "
                                   f"the digit model (\"digits\") is")
        return cmp

    def descriptors(self, name: str, symbols) -> torch.Tensor:
        """(C, D) the descriptors of `symbols` (each with .ident and its (28, 28) .image) under
        the model `name`; each drawing embedded once per model while it is among the last
        KEPT_DESCRIPTORS used."""
        cmp = self.comparator(name)
        with self._lock:
            found = {s.ident: self._descriptors.get((name, s.ident)) for s in symbols}
        todo = [s for s in symbols if found[s.ident] is None]
        if todo:
            emb = cmp.embed(np.stack([s.image for s in todo]))  # (len(todo), D)
            found.update({s.ident: e for s, e in zip(todo, emb)})
        with self._lock:
            for s in symbols:
                self._descriptors[(name, s.ident)] = found[s.ident]
                self._descriptors.move_to_end((name, s.ident))
            while len(self._descriptors) > KEPT_DESCRIPTORS:
                self._descriptors.popitem(last=False)
        return torch.stack([found[s.ident] for s in symbols])

    def measure(self, lanes) -> "SymbolModels":
        """Start measuring each model's `handdrawn_accuracy` on `lanes` (demo.work.Lanes)."""
        lanes.lane("symbols", one_thread=True)  # a core left to the page while it measures
        for name in CHOICES:
            if self.available(name):
                with self._lock:
                    if name not in self._measured:
                        future = lanes.submit("symbols", handdrawn_accuracy, self._comparators[name])
                        if future is not None:
                            self._measured[name] = future
        return self

    def accuracy(self, name: str, timeout: float | None = 30.0) -> float | None:
        """The model's measured accuracy, waiting for it up to `timeout` s; None if not measured
        (no such model, not started, failed or still running)."""
        with self._lock:
            future = self._measured.get(name)
        if future is None:
            return None
        try:
            return future.result(timeout)
        except Exception as e:  # a timeout, or the measurement failed: the tab goes without
            log.warning("hand-drawn accuracy of the %s model: %s", name, type(e).__name__)
            return None


def _shown(path: Path) -> str:
    """The path as the page may name it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name
