"""The per-model work the teaching views share: `TeachCache` keeps one `Lessons` per model and
runs the views' computing on two single-threaded lanes of the page's `Models.lanes`."""
from __future__ import annotations

import logging
import threading
import weakref

from siamese.reference import Reference

from ..models import Models
from .lessons import Lessons

log = logging.getLogger(__name__)


class TeachCache:
    """Lessons per model, keyed by the model's Reference (weakly: when demo.models drops a
    Reference, its Lessons go too; a retrained model gets its own Reference, hence its own
    Lessons, with no bookkeeping here).

    All the views' computing runs on two lanes of `models.lanes` (demo.work), one core each:
    "teach" (quick things; `run` waits for them) and "teach-tsne" (the t-SNE maps, seconds, in
    the background), one job at a time on each. The server's stop closes and joins them.
    """

    def __init__(self, models: Models, prepare=()):
        """prepare: functions (Reference, Lessons) -> None, each computing one view's cheap parts
        for a model (`warm` runs them all once per model)."""
        self.models = models
        self._prepare = tuple(prepare)
        self._lessons: "weakref.WeakKeyDictionary[Reference, Lessons]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._tsne_started: "weakref.WeakSet[Lessons]" = weakref.WeakSet()
        self._warmed: "weakref.WeakSet[Lessons]" = weakref.WeakSet()

    def _submit(self, lane: str, fn, *args):
        """fn(*args) on `lane` (one core); None once the server is stopping."""
        try:
            return self.models.lanes.lane(lane, one_thread=True).submit(fn, *args)
        except RuntimeError:
            return None

    def run(self, fn, *args):
        """fn(*args) on the quick lane; returns its result (or raises its exception)."""
        job = self._submit("teach", fn, *args)
        if job is None:
            raise RuntimeError("the server is stopping")
        return job.result()

    def drain(self) -> None:
        """Wait for the work queued so far on both lanes (for tests and measurements)."""
        for lane in ("teach", "teach-tsne"):
            job = self._submit(lane, lambda: None)
            if job is not None:
                job.result()

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

        self._submit("teach", work, ref)

    def warm_when_ready(self, key: str) -> None:
        """Warm the key's model as soon as its Reference is built (the shipped one at start-up)."""
        self.models.when_ready(key, self.warm)

    def tsne_ready(self, ref: Reference) -> bool:
        return self.lessons(ref).has("map:tsne")

    def start_tsne(self, ref: Reference) -> None:
        """Queue this model's t-SNE map on the slow lane, unless done or queued."""
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

        self._submit("teach-tsne", work, les)
