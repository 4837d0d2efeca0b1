"""The per-model work the teaching views share: `TeachCache` keeps one `Lessons` per model and
runs the views' computing on two single-threaded workers."""
from __future__ import annotations

import logging
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

import torch

from siamese.reference import Reference

from ..models import Models
from .lessons import Lessons

log = logging.getLogger(__name__)


def _one_thread() -> None:
    """Executor initializer: this thread's torch ops run on one core. With OpenMP (torch's CPU
    backend) the setting is per thread, so request threads keep theirs. On a busy 2-core CPU a
    single-threaded SVD or t-SNE step beats a two-threaded one that spins against other work
    (measured 0.01-0.05 s vs 0.2-0.8 s for the map's SVD) and leaves a core to the page."""
    if "OpenMP" in torch.__config__.parallel_info():
        torch.set_num_threads(1)


class TeachCache:
    """Lessons per model, keyed by the model's Reference (weakly: when demo.models drops a
    Reference, its Lessons go too; a retrained model gets its own Reference, hence its own
    Lessons, with no bookkeeping here).

    All the views' computing runs on two single-threaded workers: `run` (quick things, the
    caller waits) and the t-SNE maps (seconds, in the background), one at a time each.
    """

    def __init__(self, models: Models, prepare=()):
        """prepare: functions (Reference, Lessons) -> None, each computing one view's cheap parts
        for a model (`warm` runs them all once per model)."""
        self.models = models
        self._prepare = tuple(prepare)
        self._lessons: "weakref.WeakKeyDictionary[Reference, Lessons]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._quick = ThreadPoolExecutor(1, thread_name_prefix="teach", initializer=_one_thread)
        self._slow = ThreadPoolExecutor(1, thread_name_prefix="teach-tsne", initializer=_one_thread)
        self._tsne_started: "weakref.WeakSet[Lessons]" = weakref.WeakSet()
        self._warmed: "weakref.WeakSet[Lessons]" = weakref.WeakSet()

    def run(self, fn, *args):
        """fn(*args) on the quick worker; returns its result (or raises its exception)."""
        return self._quick.submit(fn, *args).result()

    def drain(self) -> None:
        """Wait for the work queued so far on both workers (for tests and measurements)."""
        self._quick.submit(lambda: None).result()
        self._slow.submit(lambda: None).result()

    def reference(self, key: str | None) -> tuple[Reference | None, str]:
        """(the key's Reference or None, its status: 'ready' / 'loading' / 'unavailable')."""
        ref = self.models.reference(key)
        return ref, ("ready" if ref is not None else self.models.status(key))

    def lessons(self, ref: Reference) -> Lessons:
        with self._lock:
            les = self._lessons.get(ref)
            if les is None:
                les = self._lessons[ref] = Lessons.of(ref)
            return les

    def warm(self, ref: Reference) -> None:
        """Once per model, queued on the quick worker: every view's cheap parts (PCA map and
        its sprite sheet, ROC, worst pairs, one-shot accuracy), so the tabs a learner has not
        opened yet are instant when they are."""
        les = self.lessons(ref)
        with self._lock:
            if les in self._warmed:
                return
            self._warmed.add(les)

        def work(ref):
            try:
                for prepare in self._prepare:
                    prepare(ref, les)
            except Exception:
                log.exception("warming the teaching views failed")

        self._quick.submit(work, ref)

    def warm_when_ready(self, key: str) -> None:
        """Warm the key's model as soon as its Reference is built (the shipped one at start-up)."""
        def wait():
            if self.models.wait():
                ref = self.models.reference(key)
                if ref is not None:
                    self.warm(ref)

        threading.Thread(target=wait, name="teach-warm-wait", daemon=True).start()

    def tsne_ready(self, ref: Reference) -> bool:
        return self.lessons(ref).has("map:tsne")

    def start_tsne(self, ref: Reference) -> None:
        """Queue this model's t-SNE map on the slow worker, unless done or queued."""
        les = self.lessons(ref)
        with self._lock:
            if les.has("map:tsne") or les in self._tsne_started:
                return
            self._tsne_started.add(les)

        def work(les):
            try:
                les.map("tsne")  # `les` holds its Reference weakly: a dropped model is skipped
            except RuntimeError:
                pass
            except Exception:
                log.exception("t-SNE map failed")

        self._slow.submit(work, les)
