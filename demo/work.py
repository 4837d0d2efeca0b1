"""Where the page's per-model work runs: a few named lanes, each one worker thread, all closed and
joined when the server stops.

    lanes = Lanes()
    lanes.submit("reference", build, key)        # runs on thread "siamese-reference_0"
    lanes.lane("teach", one_thread=True)         # a lane whose torch ops use one core
    lanes.close()                                # queued work dropped, running work told and waited for

Why lanes and not a thread per job: a daemon thread still inside torch when the interpreter
finalises aborts the process ("terminate called without an active exception", status 134).
Lanes are ordinary executor threads, so `close()` (and, failing that, the interpreter's own
exit hook for executors) joins them before torch's state goes away.
"""
from __future__ import annotations

import logging
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor

import torch

log = logging.getLogger(__name__)


def _one_thread() -> None:
    """Lane initializer: this thread's torch ops run on one core. With OpenMP (torch's CPU
    backend) the setting is per thread, so request threads keep theirs. On a busy 2-core CPU a
    single-threaded SVD or t-SNE step beats a two-threaded one that spins against other work
    (measured 0.01-0.05 s vs 0.2-0.8 s for the map's SVD) and leaves a core to the page."""
    if "OpenMP" in torch.__config__.parallel_info():
        torch.set_num_threads(1)


_ALL: "weakref.WeakSet[Lanes]" = weakref.WeakSet()


def _closing_at_exit() -> None:
    for lanes in list(_ALL):
        lanes.closing.set()


# A process that exits without close(): executors join their threads in threading's exit hooks,
# which run newest first, so this one (registered after concurrent.futures' own, imported above)
# tells running jobs to end before they are waited for.
threading._register_atexit(_closing_at_exit)


class Lanes:
    """Named single-worker executors: work on one lane runs in order, lanes run side by side."""

    def __init__(self):
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.closing = threading.Event()  # set by close() or at exit: long jobs check it and end early
        _ALL.add(self)

    def lane(self, name: str, one_thread: bool = False) -> ThreadPoolExecutor:
        """The lane `name`, made on first use (`one_thread`: its torch ops on one core)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is stopping")
            ex = self._lanes.get(name)
            if ex is None:
                ex = self._lanes[name] = ThreadPoolExecutor(
                    1, thread_name_prefix=f"siamese-{name}", initializer=_one_thread if one_thread else None)
            return ex

    def submit(self, name: str, fn, *args) -> Future | None:
        """fn(*args) on lane `name`; None once the lanes are closed (the server is stopping)."""
        try:
            return self.lane(name).submit(fn, *args)
        except RuntimeError:  # closed, or the executor shut down under us
            return None

    def close(self, timeout: float | None = 30.0) -> None:
        """Drop queued work, tell running jobs (`closing`) and wait for them (each a fraction
        of a second after it looks, a few seconds at most)."""
        self.closing.set()
        with self._lock:
            self._closed = True
            lanes = list(self._lanes.values())
        for ex in lanes:
            ex.shutdown(wait=False, cancel_futures=True)
        for ex in lanes:
            for t in list(getattr(ex, "_threads", ())):
                t.join(timeout)
                if t.is_alive():
                    log.warning("%s still busy after %.0f s at shutdown", t.name, timeout)
