"""The teaching tabs (issue 5): Embedding space, One-shot, Threshold & errors, Losses.

    build_teaching_tabs(models, model_key, compare_tab, blocks)   # inside the page's gr.Tabs

Each tab lives in its own module (demo.teach_embedding, _oneshot, _threshold, _losses): layout,
wiring, handlers (plain functions, tested without a server) and the HTML they show. This module
holds what they share: the per-model cache of `siamese.teaching.Lessons`, the "still loading"
card, the stylesheet and small HTML helpers.

Every view follows the session's `model_key` (the shipped model, or the session's retrained
one): it renders when its tab is selected, from the model's Reference (demo.models) and the
Lessons kept for that Reference, and polls with a gr.Timer while the Reference is being built.
"""
from __future__ import annotations

import html
import logging
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import torch

from siamese.reference import Reference
from siamese.teaching import Lessons

from .models import SHIPPED, Models

log = logging.getLogger(__name__)
CSS_PATH = Path(__file__).resolve().parent / "assets" / "teach.css"
# Tableau 10: distinct for the ten digits, readable on white and on dark grey.
DIGIT_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                 "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#8c8c8c")


def teach_head() -> str:
    """The stylesheet, for the `head` of one gr.HTML per tab (tabs render lazily, and the
    first one a learner opens must have it)."""
    return f'<style data-teach-css="1">{CSS_PATH.read_text()}</style>'


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

    def __init__(self, models: Models):
        self.models = models
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
            from . import teach_embedding, teach_oneshot, teach_threshold

            try:
                teach_embedding.prepare(ref, les)
                teach_threshold.prepare(ref, les)
                teach_oneshot.prepare(ref, les)
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


def status_html(status: str, models: Models, what: str) -> str:
    """The card shown while the model's Reference is loading, or when it cannot be had."""
    if status == "loading":
        text = (f"\u23f3 Embedding the 10,000 MNIST test digits with this model for {what}\u2026 "
                f"(a few seconds, once per model)")
        kind = "loading"
    else:
        why = models.data_error or "its test-set reference could not be built"
        text = f"\u2139\ufe0f {what[0].upper()}{what[1:]} needs the MNIST test set, which is not available here ({why})."
        kind = "unavailable"
    return f'<div class="teach-note {kind}" data-state="{kind}">{html.escape(text)}</div>'


def pct(x: float, digits: int = 1) -> str:
    return f"{x * 100:.{digits}f}%"


def build_teaching_tabs(models: Models, model_key: gr.State, compare_tab, blocks: gr.Blocks) -> dict:
    """Add the four teaching tabs to the current gr.Tabs. `compare_tab` (demo.compare_tab's
    CompareTab) gives the embedding map the last comparison's two digits. Returns the tabs'
    handles by name, for tests."""
    from . import teach_embedding, teach_losses, teach_oneshot, teach_threshold

    cache = TeachCache(models)
    cache.warm_when_ready(SHIPPED)
    return {
        "embedding": teach_embedding.build(cache, model_key, compare_tab.shown),
        "oneshot": teach_oneshot.build(cache, model_key),
        "threshold": teach_threshold.build(cache, model_key),
        "losses": teach_losses.build(models.comparator(None).model.config.embedding_dim),
        "cache": cache,
    }
