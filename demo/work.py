"""Where the page's per-model work runs: a few named lanes, each one worker thread, all closed and
joined when the server stops.

    lanes = Lanes()
    lanes.submit("reference", build, key)        # runs on thread "siamese-reference_0"
    lanes.lane("teach", one_thread=True)         # a lane whose torch ops use one core
    lanes.close()                                # queued work dropped, running work waited for

Why lanes and not a thread per job: a daemon thread still inside torch when the interpreter
finalises aborts the process ("terminate called without an active exception", status 134).
Lanes are ordinary executor threads, so `close()` (and, failing that, the interpreter's own
exit hook for executors) joins them before torch's state goes away.
"""
from __future__ import annotations

import logging
import threading
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


class Lanes:
    """Named single-worker executors: work on one lane runs in order, lanes run side by side."""

    def __init__(self):
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._closed = False

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
        """Drop queued work and wait for the running jobs (each a few seconds at most)."""
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
