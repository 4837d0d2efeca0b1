"""Recorded training runs, replayed: what the tests of handlers, API shapes and page wiring train
with, in place of a child process that trains for real (6-10 s each).

    recordings = Recordings(data_root)              # session-wide (conftest: `recordings`)
    slot = TrainingSlot(runner=ReplayRunner(recordings))

A recording is one real run of `siamese.job.train_job` (in this process, a few seconds, made
once per session for each loss and set of hidden digits a test asks for): its JobUpdates with
their real maps and accuracies, and its JobResult with a real checkpoint. The replay yields them
at their recorded pace (or faster), ends at the stop file as a job would (the last update says
"stopped", the checkpoint still comes), and stamps the checkpoint with the config it was asked
to run, so what a test downloads says what the page asked for. Tests whose subject is the
process itself (start, Stop within 2 s, SIGKILL, the slot, one /retrain_api run, one browser
retrain) keep the real ProcessRunner.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time

from siamese.config import TrainConfig
from siamese.job import JobResult, JobUpdate, train_job

RECORD_SECONDS = 3.0  # of training per recording: a few updates, a model that learned something


class Recordings:
    """One recorded run per (loss, hidden digits), made on first use."""

    def __init__(self, data_dir, seconds: float = RECORD_SECONDS):
        self.data_dir, self.seconds = data_dir, seconds
        self._runs: dict[tuple, list] = {}
        self._lock = threading.Lock()

    def __call__(self, cfg: TrainConfig) -> list:
        key = (cfg.loss, tuple(cfg.exclude_digits))
        with self._lock:
            if key not in self._runs:
                rec = TrainConfig(loss=cfg.loss, exclude_digits=cfg.exclude_digits, max_seconds=self.seconds,
                                  epochs=10_000, batch_size=cfg.batch_size, eval_every=self.seconds / 12,
                                  eval_size=cfg.eval_size, threads=cfg.threads, amp=cfg.amp, mining=cfg.mining,
                                  augment=cfg.augment)
                self._runs[key] = list(train_job(rec, self.data_dir))
            return self._runs[key]


class ReplayRunner:
    """A runner (demo.retrain.runners' interface) that replays a recording. pace: seconds of
    replay per recorded second (0.25: four times as fast)."""

    def __init__(self, recordings: Recordings, pace: float = 0.25):
        self.recordings, self.pace, self.hold = recordings, pace, False
        self.runs = 0

    def describe(self) -> str:
        return "a replay of a recorded run (tests)"

    @contextlib.contextmanager
    def paced(self, pace: float, hold: bool = False):
        """Replays at `pace` meanwhile (4.0: a 3-s recording lasts 12 s, time to act on it);
        hold: after the recording, its last update again at the same beat until stopped (a run
        that cannot end by itself before a test stops, cancels or leaves it)."""
        before, self.pace, self.hold = self.pace, pace, hold
        try:
            yield self
        finally:
            self.pace, self.hold = before, False

    def warm(self) -> None:
        pass

    def run(self, cfg: TrainConfig, data_dir=None, init: dict | None = None, stop_file: str | None = None):
        self.runs += 1
        items = self.recordings(cfg)
        result: JobResult = items[-1]
        t0, shown, hold = time.monotonic(), None, self.hold
        updates = items[:-1]
        if hold:  # the last update again, a beat apart, until the stop file (or ~10 minutes)
            beat = updates[-1].elapsed - updates[-2].elapsed
            updates = updates + [dataclasses.replace(updates[-1], elapsed=updates[-1].elapsed + k * beat)
                                 for k in range(1, 600)]
        for item in updates:
            while time.monotonic() - t0 < item.elapsed * self.pace:
                if stop_file and os.path.exists(stop_file):  # a job ends after its step, as here
                    last = dataclasses.replace(shown or dataclasses.replace(item, step=0, elapsed=0.0),
                                               done=True, reason="stopped")
                    yield last
                    yield self._result(result, cfg, last)
                    return
                time.sleep(0.02)
            yield item
            shown = item
        yield self._result(result, cfg, result.last)

    @staticmethod
    def _result(result: JobResult, cfg: TrainConfig, last: JobUpdate) -> JobResult:
        """The recorded model, stamped with the config it was asked to train (no data_dir: a
        page run's checkpoint carries none) and the step it was stopped at."""
        train_config = {k: v for k, v in cfg.to_dict().items() if k != "data_dir"}
        ckpt = {**result.checkpoint, "train_config": train_config, "step": last.step}
        return dataclasses.replace(result, checkpoint=ckpt, last=last)


class Switch:
    """A runner handing each run to the replay, or to the real runner while a test holds
    `using_real()` (the session's page has one slot, so one runner)."""

    def __init__(self, replay: ReplayRunner, real):
        self.replay, self.real, self.current = replay, real, replay

    def describe(self) -> str:
        return self.real.describe()

    def warm(self) -> None:
        pass

    def run(self, *args, **kwargs):
        return self.current.run(*args, **kwargs)

    @contextlib.contextmanager
    def using_real(self):
        self.current = self.real
        try:
            yield self.real
        finally:
            self.current = self.replay
