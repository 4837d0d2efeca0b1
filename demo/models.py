"""The comparators the page can use, by key, and their MNIST references, each loaded once.

Every browser session holds a key in a `gr.State`; "shipped" is the repository's checkpoint.
Retraining on the page registers a session's own Comparator with `add()` (a class run, one for
everyone who joined) and keeps its key instead, with a label that says to people which model
it is. References (test-set embeddings, fixed-pair distances) take seconds to
build, so they are built in a background thread and the page asks again until one is ready.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict

from siamese import Comparator
from siamese.data import DataUnavailableError, Split, load_mnist, resolve_data_dir
from siamese.reference import Reference

SHIPPED = "shipped"
log = logging.getLogger(__name__)


def session_of(request) -> str:
    """Which browser session (tab) a Gradio request comes from."""
    return (getattr(request, "session_hash", None) or "anonymous") if request is not None else "anonymous"


class Models:
    def __init__(self, shipped: Comparator, data_dir=None, download: bool = False,
                 max_references: int = 4):
        self._comparators: dict[str, Comparator] = {SHIPPED: shipped}
        self._labels: dict[str, str] = {}  # key -> "your retrained model (...)", for the banner
        self._references: OrderedDict[str, Reference] = OrderedDict()  # least recently used first
        self._building: set[str] = set()
        self._max_references = max_references
        self._data_dir = data_dir
        self._download = download
        self._test: Split | None = None
        self.data_error: str | None = None  # why MNIST cannot be had, short, for the page
        self._failed: dict[str, str] = {}  # key -> why its reference could not be built
        self._shipped_done = threading.Event()
        self._lock = threading.Lock()

    # -- start-up -------------------------------------------------------------------------
    def start(self) -> "Models":
        """Load the MNIST test split and the shipped model's reference in the background."""
        threading.Thread(target=self._load, name="mnist-reference", daemon=True).start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the shipped reference is built or known to be impossible (for tests and
        scripts; the page never waits)."""
        return self._shipped_done.wait(timeout)

    def _load(self) -> None:
        t0 = time.perf_counter()
        try:
            try:
                test = load_mnist(self._data_dir, "cpu", download=self._download).test
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
            self._build(SHIPPED)
            if SHIPPED in self._references:
                log.info("reference for %s ready after %.1f s (%d MNIST test digits)", SHIPPED,
                         time.perf_counter() - t0, len(test.labels))
        finally:
            self._shipped_done.set()

    def _build(self, key: str) -> None:
        try:
            ref = Reference(self.comparator(key), self._test.images, self._test.labels)
        except Exception as e:
            log.exception("building the reference for %s failed", key)
            with self._lock:
                self._failed[key] = f"{type(e).__name__}: {e}"
                self._building.discard(key)
            return
        with self._lock:
            self._references[key] = ref
            while len(self._references) > self._max_references:
                del self._references[next(k for k in self._references if k != SHIPPED)]
            self._building.discard(key)

    # -- lookups --------------------------------------------------------------------------
    def comparator(self, key: str | None) -> Comparator:
        return self._comparators.get(key or SHIPPED, self._comparators[SHIPPED])

    def reference(self, key: str | None) -> Reference | None:
        """The key's reference if built; otherwise None, starting a build when data is there."""
        key = key if key in self._comparators else SHIPPED
        with self._lock:
            ref = self._references.get(key)
            if ref is not None:
                self._references.move_to_end(key)
                return ref
            if self._test is None or key in self._building or key in self._failed:
                return None
            self._building.add(key)
        threading.Thread(target=self._build, args=(key,), daemon=True).start()
        return None

    def status(self, key: str | None = None) -> str:
        """'ready', 'loading' or 'unavailable' for the key's reference."""
        if self.data_error or (key or SHIPPED) in self._failed:
            return "unavailable"
        return "ready" if self.reference(key) is not None else "loading"

    def add(self, comparator: Comparator, label: str = "another model") -> str:
        """Register a model other than the shipped one; returns the key to keep in a session's
        gr.State. `label` names it for people ("your retrained model (...)")."""
        key = uuid.uuid4().hex
        self._comparators[key] = comparator
        self._labels[key] = label
        return key

    def label(self, key: str | None) -> str | None:
        """What to call the key's model on the page; None for the shipped model (or a key that
        is gone, which falls back to it)."""
        return self._labels.get(key) if key in self._comparators else None

    def remove(self, key: str) -> None:
        if key != SHIPPED:
            self._comparators.pop(key, None)
            self._labels.pop(key, None)
            with self._lock:
                self._references.pop(key, None)
