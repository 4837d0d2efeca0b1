"""What a training run has shown so far, kept for whoever watches it: its owner's tab, a class
following it on other screens, a late joiner. Gradio-free.

    record.add(update)          # the run's reading thread, once per JobUpdate
    record.version              # grows with every change: a watcher redraws when it moves
    with record.lock: ...       # a consistent view of the lists below
"""
from __future__ import annotations

import threading

import numpy as np

from siamese.job import JobUpdate


class RunRecord:
    """The curves (one point per update with a step), the latest map and update, and the run's
    state. Written by one thread, read by any."""

    def __init__(self, seconds: float = 0.0, exclude_digits=()):
        self.seconds_planned = seconds
        self.exclude_digits = tuple(exclude_digits)  # hidden from training (TrainConfig.exclude_digits)
        self.lock = threading.Lock()
        self.version = 0
        self.seconds: list[float] = []
        self.loss: list[float] = []
        self.accuracy: list[float] = []  # NaN where an update skipped the probe
        # With exclude_digits: the probe's pairs of seen digits only and of hidden digits only.
        self.seen_accuracy: list[float] = []
        self.unseen_accuracy: list[float] = []
        self.map_xy: np.ndarray | None = None  # (N, 2), the latest probe's LiveMap
        self.map_labels: np.ndarray | None = None
        self.last: JobUpdate | None = None
        self.last_accuracy: float | None = None  # the latest probe's, kept between probes
        self.last_seen: float | None = None  # and its seen-only / unseen-only figures
        self.last_unseen: float | None = None
        self.state = "starting"  # starting | training | done | stopped | failed
        self.note = ""  # e.g. where it trains, or why it failed

    def add(self, ev: JobUpdate) -> None:
        with self.lock:
            self.last = ev
            self.state = "training"
            if ev.step > 0:  # an update before any step (a stop at once) has no loss to show
                self.seconds.append(round(ev.elapsed, 2))
                self.loss.append(float(ev.loss))
                self.accuracy.append(_num(ev.test_pair_accuracy))
                self.seen_accuracy.append(_num(ev.seen_pair_accuracy))
                self.unseen_accuracy.append(_num(ev.unseen_pair_accuracy))
            if ev.test_pair_accuracy is not None:
                self.last_accuracy = float(ev.test_pair_accuracy)
            if ev.seen_pair_accuracy is not None:
                self.last_seen = float(ev.seen_pair_accuracy)
            if ev.unseen_pair_accuracy is not None:
                self.last_unseen = float(ev.unseen_pair_accuracy)
            if ev.map_xy is not None:
                self.map_xy, self.map_labels = ev.map_xy, ev.map_labels
            self.version += 1

    def finish(self, state: str, note: str = "") -> None:
        """done | stopped | failed, with a word on it."""
        with self.lock:
            self.state, self.note = state, note
            self.version += 1

    def set_note(self, note: str) -> None:
        with self.lock:
            self.note = note
            self.version += 1

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "failed")


def _num(x: float | None) -> float:
    return float("nan") if x is None else float(x)
