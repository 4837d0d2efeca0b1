"""Retraining on the page: one run at a time on this machine.

    slot = TrainingSlot()                        # one per process: `machine_slot()`
    run = slot.start(plan_run("bce", 30, 2e-3), owner=session_hash, data_dir="data")
    for update in run.updates():                 # siamese.job.JobUpdate, about one a second
        ...                                      # slot.stop(owner) from another thread ends it cleanly
    run.checkpoint                               # the trained model as a checkpoint dict

Training itself is `siamese.job.train_job` run by a runner (demo.retrain.runners: a child
process, or a ZeroGPU worker), never in the server's threads; a thread per run here reads what
the runner streams. This module decides when a run may start, watches that someone still
listens (a run nobody reads from for a few seconds stops itself), and hands the result over.
Gradio-free, so tests drive it directly.

What a run leaves behind (each session's model) is kept by demo.retrain.sessions.
"""
from __future__ import annotations

import atexit
import contextvars
import dataclasses
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import torch

from siamese.config import TrainConfig, check_digits, short_run
from siamese.data import NUM_CLASSES, require_mnist
from siamese.device import calibrate, settled_amp
from siamese.job import JobResult, JobUpdate
from siamese.worker import TrainingFailed, cpu_count

from ..scratch import scratch_folder
from .record import RunRecord
from .runners import RunnerNote, pick_runner

log = logging.getLogger(__name__)

MAX_SECONDS_ENV = "SIAMESE_MAX_TRAIN_SECONDS"
DEFAULT_MAX_SECONDS = 300.0
# Length presets, in seconds of training. Time-based (TrainConfig.max_seconds), so a faster
# machine does more steps in the same time (a 30 s run from scratch on a 2-core CPU reaches
# ~0.97 test pair accuracy: python -m siamese.bench --retrain-seconds 30).
PRESETS: dict[str, float] = {"short \u2248 10 s": 10.0, "quick \u2248 30 s": 30.0, "longer \u2248 2 min": 120.0}
DEFAULT_PRESET = "quick \u2248 30 s"
LEARNING_RATES = (5e-4, 1e-3, 2e-3, 5e-3, 1e-2)
LR_RANGE = (1e-5, 5e-2)
EVAL_EVERY = 1.0  # seconds between progress events: the page's update rate
EVAL_SIZE = 1000  # test digits in each probe: the map's points (and 1,000 validation digits)
ORPHAN_AFTER = 10.0  # seconds without a reader after which a run stops itself (a lost client)
MIN_SEEN_DIGITS = 2  # a run learns from pairs of different digits: it must see at least two


@dataclass(frozen=True)
class Recipe:
    """A training recipe a page run (and /retrain_api's `loss`) can pick: a name for people and
    the TrainConfig fields it sets over plan_run's defaults. Another recipe is one more entry."""

    label: str
    train: dict = field(default_factory=dict)


# The Retrain tab's loss choices, in order; the key is what /retrain_api's `loss` takes.
RECIPES: dict[str, Recipe] = {
    "bce": Recipe("cross-entropy (the blog's)", {"loss": "bce"}),
    "contrastive": Recipe("contrastive", {"loss": "contrastive"}),
    "triplet": Recipe("triplet", {"loss": "triplet"}),
}


class Busy(RuntimeError):
    """Another run holds the machine."""


class Cancelled(RuntimeError):
    """The owner pressed Stop while still queued: the run does not start."""


def max_train_seconds() -> float:
    """The longest run the server allows, whatever a client asks: $SIAMESE_MAX_TRAIN_SECONDS
    (default 300). Read at every call, so a restart is not needed to change it."""
    raw = os.environ.get(MAX_SECONDS_ENV, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_MAX_SECONDS
    except ValueError:
        log.warning("%s=%r is not a number; using %.0f s", MAX_SECONDS_ENV, raw, DEFAULT_MAX_SECONDS)
        value = DEFAULT_MAX_SECONDS
    return max(1.0, value)


def plan_run(loss: str, seconds: float, lr: float, exclude_digits=(), *, seed: int = 0) -> TrainConfig:
    """The TrainConfig of a page run: the caller's recipe (`loss`, a key of RECIPES), length
    and learning rate, clamped to what the server allows, and the digits to hide from training
    (`exclude_digits`, at least MIN_SEEN_DIGITS left); progress every second on a 1,000-digit
    probe. Raises ValueError, with a message for people, for a loss that does not exist,
    numbers that are not numbers or digits that cannot be hidden.

    No data_dir: the job gets it apart, and the config travels in the downloadable checkpoint,
    which must not carry the server's paths (nor a Path, which `torch.load(weights_only=True)`
    refuses)."""
    if loss not in RECIPES:
        raise ValueError(f"loss must be one of {', '.join(RECIPES)}, not {loss!r}")
    exclude = check_digits(exclude_digits)
    if NUM_CLASSES - len(exclude) < MIN_SEEN_DIGITS:
        raise ValueError(f"hide at most {NUM_CLASSES - MIN_SEEN_DIGITS} digits: the network learns from pairs of "
                         f"different digits, so it must see at least {MIN_SEEN_DIGITS}")
    seconds, lr = float(seconds), float(lr)
    if not (seconds == seconds and lr == lr) or seconds <= 0 or lr <= 0:  # NaN, 0, negative
        raise ValueError("seconds and lr must be positive numbers")
    seconds = min(seconds, max_train_seconds())
    lr = min(max(lr, LR_RANGE[0]), LR_RANGE[1])
    # epochs large: the time limit ends the run and the learning-rate schedule fits that time.
    # threads explicit: every core this server may use (the job runs at a lower priority, so
    # the page still comes first). The short-run settings (siamese.config.short_run: batch 128,
    # every in-batch pair, no jitter) are the library's, so `bench --retrain-seconds` measures
    # exactly what the page runs.
    base = dict(epochs=10_000, max_seconds=seconds, lr=lr, threads=cpu_count(), eval_every=EVAL_EVERY,
                eval_size=EVAL_SIZE, seed=seed, exclude_digits=exclude, **short_run(RECIPES[loss].train["loss"]))
    return TrainConfig(**{**base, **RECIPES[loss].train})


_END = object()
_RUNS: "weakref.WeakSet[Run]" = weakref.WeakSet()  # every run, for the exit handler


class Run:
    """One training run: its runner's items read by a thread of its own. Created and started
    by `TrainingSlot.start`."""

    def __init__(self, cfg: TrainConfig, owner: str, runner, data_dir=None, init: dict | None = None,
                 stop_dir: Path | None = None, orphan_after: float = ORPHAN_AFTER, on_exit=None):
        self.cfg, self.owner, self.runner, self.data_dir, self.init = cfg, owner, runner, data_dir, init
        self.seconds = float(cfg.max_seconds or 0)
        self.last: JobUpdate | None = None  # the latest update
        self.checkpoint: dict | None = None  # set when the run ends normally or is stopped
        self.result: dict | None = None  # threshold and validation accuracy of the checkpoint
        self.error: str | None = None
        self.note: str | None = None  # what the runner said (e.g. "no GPU: training on the CPU")
        self.stopped_by: str = ""  # "" | "user" | "orphaned" | "abandoned" | "closed"
        self.record = RunRecord(self.seconds, cfg.exclude_digits)  # what it has shown so far, for every watcher
        self.shared = False  # a class follows it (demo.classroom): its model outlives its owner's tab
        self.init_name = "scratch" if init is None else "shipped"  # what it started from, for people
        self.finished = threading.Event()
        self._on_end: list = []  # callables(run), called once the result is known
        self._orphan_after, self._on_exit = orphan_after, on_exit
        self._stop_file = Path(stop_dir or tempfile.gettempdir()) / f"siamese-stop-{uuid.uuid4().hex}"
        self._events: queue.Queue = queue.Queue()
        self._end_lock, self._ended = threading.Lock(), False
        self._stop = threading.Event()
        self._discard = False
        self._seen = time.monotonic()
        self._t_train: float | None = None
        # The reading thread runs in the creator's context (a copy): on ZeroGPU, spaces finds
        # the visitor (and their GPU quota) in the Gradio request context of the handler.
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._main,),
                                        name=f"retrain-{owner[:8]}", daemon=True)

    # -- control (any thread) ----------------------------------------------------------------
    def start(self) -> "Run":
        _RUNS.add(self)
        self._thread.start()
        return self

    def stop(self, why: str = "user") -> None:
        """End after the current step; the model trained so far is kept. The job, wherever it
        runs, sees the stop file before its next step."""
        if not self._stop.is_set():
            self.stopped_by = why
        self._stop.set()
        try:
            self._stop_file.touch()
        except OSError as e:
            log.warning("could not write the stop file %s: %s", self._stop_file, e)

    def abandon(self) -> None:
        """Its owner is gone: stop, and keep nothing unless a class follows the run (then the
        model trained so far becomes the class's)."""
        if self.shared:
            self.stop("closed")
            return
        self._discard = True
        self.stop("abandoned")

    def when_done(self, fn) -> None:
        """Call fn(run) once the run has ended and its result is known (at once if it has),
        before `finished` is set: whoever waits on the run sees what fn did."""
        with self._end_lock:
            if not self._ended:
                self._on_end.append(fn)
                return
        fn(self)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run has ended and its thread is gone; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self.finished.wait(timeout):
            return False
        if self._thread.ident is not None:
            self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return not self.finished.is_set()

    @property
    def elapsed(self) -> float:
        """Seconds of training as of the latest update."""
        return self.last.elapsed if self.last is not None else 0.0

    @property
    def wall_elapsed(self) -> float:
        """Seconds since training started, now (0 while the job is setting up)."""
        return time.monotonic() - self._t_train if self._t_train is not None else 0.0

    # -- reading ----------------------------------------------------------------------------
    def updates(self, poll: float = 0.5):
        """Yield each JobUpdate (or RunnerNote) as it comes, and None every `poll` seconds
        while waiting (time to move a progress bar). Ends after the last one. Reading is what
        keeps the run alive: see `orphan_after`."""
        while True:
            self._seen = time.monotonic()
            try:
                item = self._events.get(timeout=poll)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            yield item

    # -- the reading thread -----------------------------------------------------------------
    def _main(self) -> None:
        try:
            for item in self.runner.run(self.cfg, self.data_dir, self.init, str(self._stop_file)):
                if isinstance(item, JobResult):
                    if not self._discard:
                        self.checkpoint = item.checkpoint
                        self.result = {"threshold": item.threshold, "val_pair_accuracy": item.val_pair_accuracy}
                    continue
                if isinstance(item, RunnerNote):
                    self.note = item.text
                    self.record.set_note(item.text)
                elif self._t_train is None:
                    self._t_train = time.monotonic() - item.elapsed
                if isinstance(item, JobUpdate):
                    self.last = item
                    self.record.add(item)
                self._events.put(item)
                if time.monotonic() - self._seen > self._orphan_after and not self._stop.is_set():
                    log.info("retrain of %s: nobody is reading; stopping", self.owner[:8])
                    self._discard = True
                    self.stop("orphaned")
        except TrainingFailed as e:  # the job died or raised: the page says so, the server goes on
            log.warning("retrain of %s failed: %s", self.owner[:8], e)
            self.error = str(e)
        except Exception as e:
            log.exception("retrain of %s failed", self.owner[:8])
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self._stop_file.unlink(missing_ok=True)
            with self._end_lock:
                self._ended, callbacks = True, self._on_end
            for fn in callbacks:  # before the record says it ended: its watchers then find their model
                try:
                    fn(self)
                except Exception:  # a watcher's trouble is not the run's
                    log.exception("a callback on the end of %s's run failed", self.owner[:8])
            state = "failed" if self.error or self.checkpoint is None else ("stopped" if self.stopped_by else "done")
            self.record.finish(state, self.error or "")
            self.finished.set()
            self._events.put(_END)
            if self._on_exit is not None:
                self._on_exit(self)


class TrainingSlot:
    """At most one Run at a time in this process. Gradio's queue (concurrency_limit=1 on the
    training events) makes later runs wait their turn; the slot also waits for a cancelled
    run to end before the next one starts, and answers who is training now.

    runner: where runs train (default: `runners.pick_runner()`, a child process at a lower
    priority than the server, or ZeroGPU)."""

    def __init__(self, runner=None, orphan_after: float = ORPHAN_AFTER):
        self.runner = runner if runner is not None else pick_runner()
        self.orphan_after = orphan_after
        self._stop_dir = scratch_folder("siamese-runs-")
        self._lock = threading.Lock()
        self._run: Run | None = None
        self._waiting: dict[str, float] = {}  # owner -> when it asked (queued behind a run)
        self._cancelled: set[str] = set()

    # -- who holds it -----------------------------------------------------------------------
    @property
    def current(self) -> Run | None:
        """The run in progress, if any."""
        run = self._run
        return run if run is not None and run.alive else None

    def wait(self, owner: str) -> None:
        """`owner` asked to train and is about to queue (a Stop before its turn cancels it)."""
        with self._lock:
            self._waiting[owner] = time.monotonic()
            self._cancelled.discard(owner)

    def start(self, cfg: TrainConfig, owner: str, data_dir=None, init: dict | None = None,
              wait: float = 15.0) -> Run:
        """Start a run for `owner` on MNIST under `data_dir` (raises DataUnavailableError when
        its files are not there). Waits up to `wait` seconds for a run that is ending; raises
        Busy if one is still going then, or Cancelled if `owner` pressed Stop while queued."""
        require_mnist(data_dir)
        cfg = dataclasses.replace(cfg, amp=settled_amp(cfg.amp, cfg.device))
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                self._waiting.pop(owner, None)
                if owner in self._cancelled:
                    self._cancelled.discard(owner)
                    raise Cancelled("cancelled before it started")
                prev = self._run
                if prev is None or not prev.alive:
                    run = Run(cfg, owner, self.runner, data_dir, init, stop_dir=self._stop_dir,
                              orphan_after=self.orphan_after, on_exit=self._release)
                    self._run = run
                    return run.start()
            if not prev.join(max(0.0, deadline - time.monotonic())):
                raise Busy(f"another training run is still going ({prev.elapsed:.0f} s in)")

    def stop(self, owner: str) -> str:
        """Stop `owner`'s run cleanly (its model is kept) or its place in the queue.
        Returns what happened: 'stopping', 'unqueued' or 'nothing'."""
        with self._lock:
            run = self._run
            if run is not None and run.alive and run.owner == owner:
                run.stop("user")
                return "stopping"
            if owner in self._waiting:
                self._cancelled.add(owner)
                self._waiting.pop(owner, None)
                return "unqueued"
        return "nothing"

    def abandon(self, owner: str) -> None:
        """The owner is gone (tab closed, generator cancelled): stop and discard its run."""
        with self._lock:
            self._waiting.pop(owner, None)
            run = self._run
        if run is not None and run.alive and run.owner == owner:
            run.abandon()

    def _release(self, run: Run) -> None:
        with self._lock:
            if self._run is run:
                self._run = None

    def close(self) -> None:
        """Remove the slot's stop-file folder (runs still going are the caller's business)."""
        shutil.rmtree(self._stop_dir, ignore_errors=True)


_MACHINE_SLOT: TrainingSlot | None = None
_MACHINE_LOCK = threading.Lock()


@atexit.register
def _stop_at_exit() -> None:
    """Runs still going when the interpreter exits: stop them (their jobs end after a step) and
    wait a little for their reading threads, which end their child processes."""
    for run in list(_RUNS):
        if run.alive:
            run.abandon()
        run.join(5)


def machine_slot() -> TrainingSlot:
    """The process's one TrainingSlot (every page built in this process shares it)."""
    global _MACHINE_SLOT
    with _MACHINE_LOCK:
        if _MACHINE_SLOT is None:
            _MACHINE_SLOT = TrainingSlot()
            # The runner's fork server imports torch in the background, so that the first
            # Start trains within a couple of seconds.
            threading.Thread(target=_warm, args=(_MACHINE_SLOT.runner,), name="train-warm", daemon=True).start()
        return _MACHINE_SLOT


def _warm(runner) -> None:
    """At start-up: the numerics measured (on a CPU server) and the runner ready."""
    if not torch.cuda.is_available():
        calibrate()
    runner.warm()
