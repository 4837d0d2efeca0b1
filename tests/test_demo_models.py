"""demo.models and demo.work: which models the page holds, how one leaves (and says why), and
where per-model work runs (named lanes, joined when the server stops). No server, no MNIST."""
from __future__ import annotations

import threading

import pytest
import torch

from demo.models import SHIPPED, ModelGone, Models
from demo.work import Lanes


def test_a_model_added_then_removed_says_why_from_then_on(comparator):
    models = Models(comparator)
    key = models.add(comparator, label="your retrained model (x)")
    assert models.alive(key) and models.label(key) == "your retrained model (x)"
    assert models.comparator(key) is comparator and models.gone(key) is None
    models.remove(key, "the class ended")
    assert not models.alive(key) and models.label(key) is None and models.status(key) == "gone"
    with pytest.raises(ModelGone) as e:
        models.comparator(key)
    assert e.value.reason == "the class ended" and e.value.label == "your retrained model (x)"
    assert models.reference(key) is None  # nothing is built for a model that left


def test_the_shipped_model_never_leaves_and_unknown_keys_are_gone(comparator):
    models = Models(comparator)
    models.remove(SHIPPED, "no")
    assert models.comparator(None) is models.comparator(SHIPPED) is comparator
    gone = models.gone("feedface")  # a key from before a restart, say
    assert gone is not None and "restarted" in gone.reason and gone.label is None


def test_keys_are_never_reused(comparator):
    models = Models(comparator)
    keys = {models.add(comparator) for _ in range(50)}
    assert len(keys) == 50 and SHIPPED not in keys


def test_lanes_run_work_in_order_on_named_threads_and_close_joins_them():
    lanes = Lanes()
    seen, release = [], threading.Event()

    workers = set()

    def job(i):
        release.wait(5)
        workers.add(threading.current_thread())
        seen.append((i, threading.current_thread().name))

    futures = [lanes.submit("reference", job, i) for i in range(3)]
    release.set()
    for f in futures:
        f.result(5)
    assert [i for i, _ in seen] == [0, 1, 2]  # one lane: in order
    assert {name for _, name in seen} == {"siamese-reference_0"}
    running = threading.Event()
    slow = lanes.submit("teach", lambda: (workers.add(threading.current_thread()), running.set(), release.wait(0.3)))
    running.wait(5)
    queued = lanes.submit("teach", lambda: seen.append("never"))
    lanes.close()
    assert slow.done() and queued.cancelled() and "never" not in seen  # running work finished, queued dropped
    assert len(workers) == 2 and not any(t.is_alive() for t in workers)
    assert lanes.submit("reference", job, 9) is None  # after close: refused, no thread started


def test_closing_the_lanes_ends_a_reference_build_at_its_next_chunk():
    from siamese import Comparator
    from siamese.compare import EmbeddingStopped

    from .conftest import CHECKPOINT

    # its own comparator: the session's is embedding on other tests' lanes meanwhile
    comparator = Comparator.from_checkpoint(CHECKPOINT)
    lanes, chunks = Lanes(), []
    images = torch.zeros(3 * 1024, 28, 28, dtype=torch.uint8)
    model_embed = comparator.model.embed

    def counted(x):  # the first chunk closes the lanes, as a server stopping mid-build
        chunks.append(len(x))
        if len(chunks) == 1:
            lanes.close(timeout=0)
        return model_embed(x)

    comparator.model.embed = counted
    with pytest.raises(EmbeddingStopped, match="after 1024 of 3072"):
        comparator.embed(images, fast=False, stop=lanes.closing)  # fast=False: no bf16 calibration first
    assert chunks == [1024] and lanes.closing.is_set()
    del comparator.model.embed
    assert comparator.embed(images[:5], stop=threading.Event()).shape == (5, comparator.model.config.embedding_dim)


def test_a_one_thread_lane_runs_torch_on_one_core():
    lanes = Lanes()
    try:
        threads = lanes.lane("teach", one_thread=True).submit(torch.get_num_threads).result(5)
        assert threads == 1 or "OpenMP" not in torch.__config__.parallel_info()
    finally:
        lanes.close()
