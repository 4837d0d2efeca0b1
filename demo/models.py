"""The comparators the page can use, by key, and their MNIST references, each built once.

Every browser session holds a key in a `gr.State`; "shipped" is the repository's checkpoint.
Retraining on the page registers a session's own Comparator with `add()` (a class run, one for
everyone who joined) and keeps its key instead, with a label that says to people which model
it is.

A model's lifetime is explicit: `remove(key, why)` takes it off the server and remembers why,
and from then on `comparator(key)` raises `ModelGone` with that reason. Nothing falls back to
the shipped model behind a page's back; the page catches ModelGone, says so, and switches
verdict, threshold and teaching tabs to the shipped model together (demo.app).

Per-model work (the MNIST reference: embeddings of the 10,000 test digits and the fixed-pair
distances, a few seconds each) runs on `lanes` (demo.work): named threads that `close()` joins.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict

from siamese import Comparator
from siamese.compare import EmbeddingStopped
from siamese.data import SOURCES, DataUnavailableError, Split, load_mnist, resolve_data_dir
from siamese.reference import Reference

from .work import Lanes

SHIPPED = "shipped"
GONE_MEMORY = 4096  # departed keys whose reason is kept (a key is 32 hex digits)
log = logging.getLogger(__name__)


class ModelGone(LookupError):
    """A session's model is no longer on the server; `reason` says why, for people."""

    def __init__(self, key: str, reason: str, label: str | None = None):
        self.key, self.reason, self.label = key, reason, label  # label: what the page called it
        super().__init__(f"model {str(key)[:8]} is gone: {reason}")


def session_of(request) -> str:
    """Which browser session (tab) a Gradio request comes from."""
    return (getattr(request, "session_hash", None) or "anonymous") if request is not None else "anonymous"


class Models:
    def __init__(self, shipped: Comparator, data_dir=None, download: bool = False,
                 max_references: int = 4):
        self._comparators: dict[str, Comparator] = {SHIPPED: shipped}
        self._labels: dict[str, str] = {}  # key -> "your retrained model (...)", for the banner
        self._gone: OrderedDict[str, tuple[str, str]] = OrderedDict()  # departed key -> (label, why)
        self._references: OrderedDict[str, Reference] = OrderedDict()  # least recently used first
        self._building: set[str] = set()
        self._waiting: dict[str, list] = {}  # key -> callables(Reference) for when it is built
        self._max_references = max_references
        self._data_dir = data_dir
        self._download = download
        self._test: Split | None = None
        self.data_error: str | None = None  # why MNIST cannot be had, short, for the page
        self.data_step: str | None = "reading"  # what loading the shipped reference does now; None once done
        self._failed: dict[str, str] = {}  # key -> why its reference could not be built
        self._shipped_done = threading.Event()
        self._lock = threading.Lock()
        self.lanes = Lanes()

    # -- start-up and shut-down -------------------------------------------------------------
    def start(self) -> "Models":
        """Load the MNIST test split and the shipped model's reference in the background."""
        if self.lanes.submit("reference", self._load) is None:
            self._shipped_done.set()
        return self

    def close(self) -> None:
        """The server stops: drop queued per-model work and join the threads that ran it."""
        self.lanes.close()
        self._shipped_done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the shipped reference is built or known to be impossible (for tests and
        scripts; the page never waits)."""
        return self._shipped_done.wait(timeout)

    def _load(self) -> None:
        t0 = time.perf_counter()
        try:
            try:
                test = load_mnist(self._data_dir, "cpu", download=self._download, progress=self._step).test
            except DataUnavailableError as e:
                where = resolve_data_dir(self._data_dir)
                self.data_error = (f"no MNIST files under {where}/" if not self._download
                                   else f"no MNIST files under {where}/ and the download failed")
                log.warning("%s", e)
                return
            except Exception as e:  # a broken file must not take the page down with it
                self.data_error = f"MNIST could not be read ({type(e).__name__})"
                log.exception("loading MNIST failed")
                return
            with self._lock:
                self._test = test
                self._building.add(SHIPPED)
            self._step("embedding")
            self._build(SHIPPED)
            if SHIPPED in self._references:
                log.info("reference for %s ready after %.1f s (%d MNIST test digits)", SHIPPED,
                         time.perf_counter() - t0, len(test.labels))
        finally:
            self.data_step = None
            self._shipped_done.set()

    def _step(self, step: str) -> None:
        """load_mnist's progress (a source it fetches from, or "reading"), then "embedding"."""
        self.data_step = step
        if step in SOURCES:
            log.info("fetching MNIST from %s", SOURCES[step])

    def loading_text(self) -> str:
        """What the page is waiting for while the shipped reference loads, for people."""
        step = self.data_step
        if step in SOURCES:
            return f"Downloading MNIST from {SOURCES[step]}"
        if step == "reading":
            return "Reading the MNIST test digits"
        return "Embedding the MNIST test digits with the model"

    def _build(self, key: str) -> None:
        try:
            ref = Reference(self.comparator(key), self._test.images, self._test.labels, stop=self.lanes.closing)
        except (ModelGone, EmbeddingStopped):  # removed while it waited for its turn; the server is closing
            with self._lock:
                self._building.discard(key)
                self._waiting.pop(key, None)
            return
        except Exception as e:
            log.exception("building the reference for %s failed", key)
            with self._lock:
                self._failed[key] = f"{type(e).__name__}: {e}"
                self._building.discard(key)
                self._waiting.pop(key, None)
            return
        with self._lock:
            if key not in self._comparators:  # removed while it was being built
                self._building.discard(key)
                return
            self._references[key] = ref
            while len(self._references) > self._max_references:
                del self._references[next(k for k in self._references if k != SHIPPED)]
            self._building.discard(key)
            waiting = self._waiting.pop(key, [])
        for fn in waiting:
            try:
                fn(ref)
            except Exception:
                log.exception("work waiting for the reference of %s failed", key)

    # -- lookups --------------------------------------------------------------------------
    def alive(self, key: str | None) -> bool:
        return (key or SHIPPED) in self._comparators

    def gone(self, key: str | None) -> ModelGone | None:
        """Why `key`'s model left the server, as the error its lookups raise (None while here)."""
        if self.alive(key):
            return None
        label, reason = self._gone.get(key, (None, "it is not on this server (the server may have restarted)"))
        return ModelGone(key, reason, label)

    def comparator(self, key: str | None) -> Comparator:
        """The key's Comparator (None: the shipped one). Raises ModelGone for a key whose model
        has left the server: the caller decides what the page says, never a silent fallback."""
        cmp = self._comparators.get(key or SHIPPED)
        if cmp is None:
            raise self.gone(key)
        return cmp

    def reference(self, key: str | None) -> Reference | None:
        """The key's reference if built; otherwise None, starting a build when data is there
        (never for a key that is gone)."""
        key = key or SHIPPED
        with self._lock:
            ref = self._references.get(key)
            if ref is not None:
                self._references.move_to_end(key)
                return ref
            if (self._test is None or key in self._building or key in self._failed
                    or key not in self._comparators):
                return None
            self._building.add(key)
        if self.lanes.submit("reference", self._build, key) is None:
            with self._lock:
                self._building.discard(key)
        return None

    def when_ready(self, key: str, fn) -> None:
        """fn(reference) once the key's reference is built: at once if it is, else on the
        reference lane right after its build (never if the build fails or the model leaves)."""
        ref = self.reference(key)
        if ref is not None:
            fn(ref)
            return
        with self._lock:
            if key in self._references:
                ref = self._references[key]
            else:
                self._waiting.setdefault(key, []).append(fn)
        if ref is not None:
            fn(ref)

    def status(self, key: str | None = None) -> str:
        """'ready', 'loading', 'unavailable' (no MNIST, or its build failed) or 'gone' for the
        key's reference."""
        if not self.alive(key):
            return "gone"
        if self.data_error or (key or SHIPPED) in self._failed:
            return "unavailable"
        return "ready" if self.reference(key) is not None else "loading"

    def add(self, comparator: Comparator, label: str = "another model") -> str:
        """Register a model other than the shipped one; returns the key to keep in a session's
        gr.State. `label` names it for people ("your retrained model (...)"). Keys are never
        reused."""
        key = uuid.uuid4().hex
        with self._lock:
            self._comparators[key] = comparator
            self._labels[key] = label
        return key

    def keys(self) -> list[str]:
        """The models here besides the shipped one, oldest first."""
        with self._lock:
            return list(self._labels)

    def label(self, key: str | None) -> str | None:
        """What to call the key's model on the page; None for the shipped model (or a key that
        is gone)."""
        return self._labels.get(key) if key in self._comparators else None

    def remove(self, key: str, reason: str = "it was removed from the server") -> None:
        """Take a model off the server; later lookups of `key` raise ModelGone(reason)."""
        if key == SHIPPED:
            return
        with self._lock:
            if self._comparators.pop(key, None) is None:
                return
            label = self._labels.pop(key, None)
            self._references.pop(key, None)
            self._waiting.pop(key, None)
            self._gone[key] = (label, reason)
            while len(self._gone) > GONE_MEMORY:
                self._gone.popitem(last=False)
        log.info("model %s (%s) left: %s", key[:8], label or "unnamed", reason)
