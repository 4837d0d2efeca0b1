"""Retraining on the page: one run at a time on this machine, and the models runs leave behind.

    slot = TrainingSlot()                        # one per process: `machine_slot()`
    run = slot.start(plan_run("bce", 30, 2e-3), data, owner=session_hash)
    for event in run.updates():                  # siamese.train.TrainEvent, about one a second
        ...                                      # slot.stop(owner) from another thread ends it cleanly
    run.checkpoint                               # the trained model as a checkpoint dict

Training itself is `siamese.train.Trainer` in a background thread; this module only decides
when a run may start, watches that someone still listens (a run nobody reads from for a few
seconds stops itself), and hands the result over. Gradio-free, so tests drive it directly.

`SessionModels` keeps each browser session's retrained model (a Comparator registered with
demo.models.Models, plus its checkpoint file for download) and frees them when sessions end
or when more than `cap` sessions hold one.
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import re
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from siamese import Comparator
from siamese.checkpoint import model_from_checkpoint, write_checkpoint
from siamese.config import LOSSES, TrainConfig
from siamese.data import MNIST, load_mnist, resolve_data_dir
from siamese.train import TrainEvent, Trainer

from .models import Models

log = logging.getLogger(__name__)

MAX_SECONDS_ENV = "SIAMESE_MAX_TRAIN_SECONDS"
DEFAULT_MAX_SECONDS = 300.0
# Length presets, in seconds of training. Time-based (TrainConfig.max_seconds): this 2-core CPU
# does ~5,000 pairs/s (a 30 s run from scratch reaches ~0.97 test pair accuracy); a GPU does
# far more steps in the same time.
PRESETS: dict[str, float] = {"short \u2248 10 s": 10.0, "quick \u2248 30 s": 30.0, "longer \u2248 2 min": 120.0}
DEFAULT_PRESET = "quick \u2248 30 s"
LEARNING_RATES = (5e-4, 1e-3, 2e-3, 5e-3, 1e-2)
LR_RANGE = (1e-5, 5e-2)
INITS = ("scratch", "shipped", "current")
EVAL_EVERY = 1.0  # seconds between progress events: the page's update rate
EVAL_SIZE = 1000  # test digits in each probe: the map's points (and 1,000 validation digits)
ORPHAN_AFTER = 10.0  # seconds without a reader after which a run stops itself (a lost client)


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


def plan_run(loss: str, seconds: float, lr: float, *, seed: int = 0) -> TrainConfig:
    """The TrainConfig of a page run: the caller's loss, length and learning rate, clamped to
    what the server allows; progress every second on a 1,000-digit probe. Raises ValueError
    for a loss that does not exist or numbers that are not numbers.

    No data_dir: the slot hands the data over, and the config travels in the downloadable
    checkpoint, which must not carry the server's paths (nor a Path, which
    `torch.load(weights_only=True)` refuses)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
    seconds, lr = float(seconds), float(lr)
    if not (seconds == seconds and lr == lr) or seconds <= 0 or lr <= 0:  # NaN, 0, negative
        raise ValueError("seconds and lr must be positive numbers")
    seconds = min(seconds, max_train_seconds())
    lr = min(max(lr, LR_RANGE[0]), LR_RANGE[1])
    # epochs large: the time limit ends the run and the learning-rate schedule fits that time.
    # threads explicit: torch.set_num_threads() anywhere in the process (e.g. a single-threaded
    # worker) also becomes the default of threads started later, this one included (measured:
    # 87 instead of 144 steps in 20 s). The training thread's low priority keeps the page fast.
    return TrainConfig(epochs=10_000, max_seconds=seconds, lr=lr, loss=loss, threads=cpu_count(),
                       eval_every=EVAL_EVERY, eval_size=EVAL_SIZE, seed=seed)


def cpu_count() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _lower_priority(nice: int) -> None:
    """Make the calling thread (and the compute threads it starts) yield the CPU to the
    server's other threads. Linux: nice values are per thread."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError as e:
        log.warning("could not lower the training thread's priority: %s", e)


_END = object()
_RUNS: "weakref.WeakSet[Run]" = weakref.WeakSet()  # every run, for the exit handler


class Run:
    """One training run in its own thread. Created and started by `TrainingSlot.start`."""

    def __init__(self, cfg: TrainConfig, data: MNIST, owner: str, init: dict | None = None,
                 nice: int = 0, orphan_after: float = ORPHAN_AFTER, on_exit=None):
        self.cfg, self.owner, self.init = cfg, owner, init
        self.seconds = float(cfg.max_seconds or 0)
        self.created = time.monotonic()
        self.last: TrainEvent | None = None  # the latest event
        self.checkpoint: dict | None = None  # set when the run ends normally or is stopped
        self.result: dict | None = None  # Trainer.finalize(): threshold, calibration, val accuracy
        self.error: str | None = None
        self.threads: int | None = None
        self.stopped_by: str = ""  # "" | "user" | "orphaned" | "abandoned"
        self.finished = threading.Event()
        self._data, self._nice, self._orphan_after, self._on_exit = data, nice, orphan_after, on_exit
        self._events: queue.Queue = queue.Queue()
        self._trainer: Trainer | None = None
        self._stop = threading.Event()
        self._discard = False
        self._seen = time.monotonic()
        self._t_train: float | None = None
        self._thread = threading.Thread(target=self._main, name=f"retrain-{owner[:8]}", daemon=True)

    # -- control (any thread) ----------------------------------------------------------------
    def start(self) -> "Run":
        _RUNS.add(self)
        self._thread.start()
        return self

    def stop(self, why: str = "user") -> None:
        """End after the current step; the model trained so far is kept."""
        if not self._stop.is_set():
            self.stopped_by = why
        self._stop.set()
        trainer = self._trainer  # read once: the training thread drops it when it ends
        if trainer is not None:
            trainer.stop()

    def abandon(self) -> None:
        """Stop and skip the final threshold and checkpoint: nobody will use them."""
        self._discard = True
        self.stop("abandoned")

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
        """Seconds of training as of the latest event."""
        return self.last.elapsed if self.last is not None else 0.0

    @property
    def wall_elapsed(self) -> float:
        """Seconds since training started, now (0 while the model is being set up)."""
        return time.monotonic() - self._t_train if self._t_train is not None else 0.0

    # -- reading ----------------------------------------------------------------------------
    def updates(self, poll: float = 0.5):
        """Yield each TrainEvent as it comes, and None every `poll` seconds while waiting (time
        to move a progress bar). Ends after the last event. Reading is what keeps the run
        alive: see `orphan_after`."""
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

    # -- the training thread ----------------------------------------------------------------
    def _main(self) -> None:
        try:
            _lower_priority(self._nice)
            model = model_from_checkpoint(self.init) if self.init is not None else None
            trainer = Trainer(self.cfg, data=self._data, model=model)
            self.threads = torch.get_num_threads()  # this thread's intra-op threads, as it trains
            self._trainer = trainer
            if self._stop.is_set():
                trainer.stop()
            self._t_train = time.monotonic()
            for ev in trainer.run():
                self.last = ev
                self._events.put(ev)
                if time.monotonic() - self._seen > self._orphan_after and not self._stop.is_set():
                    log.info("retrain of %s: nobody is reading; stopping", self.owner[:8])
                    self._discard = True
                    self.stop("orphaned")
            if not self._discard:
                self.result = trainer.finalize(full_eval=False)
                self.checkpoint = trainer.checkpoint(self.result)
        except Exception as e:  # the page reports it; the server goes on
            log.exception("retrain of %s failed", self.owner[:8])
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self._trainer = None  # the model, optimiser state and data views go with it
            self.finished.set()
            self._events.put(_END)
            if self._on_exit is not None:
                self._on_exit(self)


class TrainingSlot:
    """At most one Run at a time in this process. Gradio's queue (concurrency_limit=1 on the
    training events) makes later runs wait their turn; the slot also waits for a cancelled
    run's thread to end before the next one starts, and answers who is training now.

    nice: how much lower the training thread's priority is than the server's (Linux), so
    /compare keeps answering while a run uses every core."""

    def __init__(self, nice: int = 10, orphan_after: float = ORPHAN_AFTER):
        self.nice, self.orphan_after = nice, orphan_after
        self._lock = threading.Lock()
        self._run: Run | None = None
        self._data: dict[str, MNIST] = {}
        self._data_lock = threading.Lock()
        self._waiting: dict[str, float] = {}  # owner -> when it asked (queued behind a run)
        self._cancelled: set[str] = set()

    # -- data -------------------------------------------------------------------------------
    def data(self, data_dir=None) -> MNIST:
        """MNIST for training, loaded once per folder (raises DataUnavailableError)."""
        key = str(resolve_data_dir(data_dir).resolve())
        with self._data_lock:
            if key not in self._data:
                self._data[key] = load_mnist(data_dir, "cpu", download=False)
            return self._data[key]

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

    def start(self, cfg: TrainConfig, data: MNIST, owner: str, init: dict | None = None,
              wait: float = 15.0) -> Run:
        """Start a run for `owner`. Waits up to `wait` seconds for a run that is ending; raises
        Busy if one is still going then, or Cancelled if `owner` pressed Stop while queued."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                self._waiting.pop(owner, None)
                if owner in self._cancelled:
                    self._cancelled.discard(owner)
                    raise Cancelled("cancelled before it started")
                prev = self._run
                if prev is None or not prev.alive:
                    run = Run(cfg, data, owner, init, nice=self.nice, orphan_after=self.orphan_after,
                              on_exit=self._release)
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


_MACHINE_SLOT: TrainingSlot | None = None
_MACHINE_LOCK = threading.Lock()


@atexit.register
def _stop_at_exit() -> None:
    """A training thread still going, or still tearing down its torch state, when the
    interpreter exits makes C++ abort the process (exit status 134): stop and join them all."""
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
        return _MACHINE_SLOT


# -- what a run leaves behind ------------------------------------------------------------------
@dataclass
class SessionModel:
    key: str  # in demo.models.Models
    path: Path  # the checkpoint file offered for download
    summary: dict = field(default_factory=dict)  # loss, seconds, steps, accuracy, ... for the page


def checkpoint_name(cfg: dict, step: int) -> str:
    loss = re.sub(r"[^a-z]", "", str(cfg.get("loss", "model"))) or "model"
    return f"siamese_retrained_{loss}_{step}steps.pt"


class SessionModels:
    """Each session's retrained model, at most `cap` of them (least recently made go first).

    A model lives in `models` (a Comparator under a fresh key) and as a checkpoint file under
    `folder`; `release` removes both. The shipped model is never touched."""

    def __init__(self, models: Models, folder: str | Path | None = None, cap: int = 8):
        self.models, self.cap = models, cap
        self.folder = Path(folder or tempfile.mkdtemp(prefix="siamese-retrained-"))
        self._by_owner: OrderedDict[str, SessionModel] = OrderedDict()
        self._lock = threading.Lock()

    def register(self, owner: str, checkpoint: dict, summary: dict | None = None) -> SessionModel:
        """Make `checkpoint` `owner`'s model (replacing its previous one): a Comparator in
        `models` and a file to download."""
        cmp = Comparator.from_checkpoint_dict(checkpoint)
        key = self.models.add(cmp)
        name = checkpoint_name(checkpoint.get("train_config") or {}, int(checkpoint.get("step", 0)))
        path = write_checkpoint(self.folder / key / name, checkpoint)
        entry = SessionModel(key, path, dict(summary or {}))
        with self._lock:
            old = self._by_owner.pop(owner, None)
            self._by_owner[owner] = entry
            evicted = []
            while len(self._by_owner) > self.cap:
                evicted.append(self._by_owner.popitem(last=False)[1])
        for e in ([old] if old else []) + evicted:
            self._drop(e)
        return entry

    def get(self, owner: str) -> SessionModel | None:
        with self._lock:
            return self._by_owner.get(owner)

    def owns(self, owner: str, key: str | None) -> bool:
        """Whether `key` is `owner`'s live retrained model."""
        entry = self.get(owner)
        return entry is not None and entry.key == key

    def release(self, owner: str) -> None:
        with self._lock:
            entry = self._by_owner.pop(owner, None)
        if entry is not None:
            self._drop(entry)

    def __len__(self) -> int:
        return len(self._by_owner)

    def _drop(self, entry: SessionModel) -> None:
        self.models.remove(entry.key)
        shutil.rmtree(entry.path.parent, ignore_errors=True)
