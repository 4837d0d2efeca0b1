"""demo.training: the one-at-a-time training slot, its runs, and the models runs leave behind.

Runs here are real (MNIST, a few seconds each) but small: batch 64, a 200-digit probe."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from demo.models import SHIPPED, Models
from demo.training import (DEFAULT_MAX_SECONDS, MAX_SECONDS_ENV, Busy, Cancelled, SessionModels, TrainingSlot,
                           checkpoint_name, cpu_count, max_train_seconds, plan_run)
from siamese.checkpoint import load_checkpoint
from siamese.config import TrainConfig

pytestmark = pytest.mark.integration


def small(seconds: float = 3.0, **kw) -> TrainConfig:
    return TrainConfig(epochs=1000, max_seconds=seconds, batch_size=64, eval_every=0.3, eval_size=200, **kw)


def drain(run, timeout: float = 60.0) -> list:
    """Every event of a run (reading keeps it alive)."""
    events, deadline = [], time.monotonic() + timeout
    for ev in run.updates(poll=0.1):
        assert time.monotonic() < deadline, "the run did not end in time"
        if ev is not None:
            events.append(ev)
    return events


@pytest.fixture
def slot():
    s = TrainingSlot(nice=0)
    yield s
    run = s.current
    if run is not None:
        run.abandon()
        run.join(30)


# -- limits and plans --------------------------------------------------------------------------
def test_max_seconds_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(MAX_SECONDS_ENV, raising=False)
    assert max_train_seconds() == DEFAULT_MAX_SECONDS
    monkeypatch.setenv(MAX_SECONDS_ENV, "12")
    assert max_train_seconds() == 12
    monkeypatch.setenv(MAX_SECONDS_ENV, "lots")
    assert max_train_seconds() == DEFAULT_MAX_SECONDS
    monkeypatch.setenv(MAX_SECONDS_ENV, "-5")
    assert max_train_seconds() == 1


def test_plan_clamps_what_a_client_asks(monkeypatch):
    monkeypatch.setenv(MAX_SECONDS_ENV, "20")
    cfg = plan_run("contrastive", 10_000, 7.0)
    assert cfg.max_seconds == 20 and cfg.loss == "contrastive" and cfg.lr == 0.05
    assert cfg.eval_every == 1.0 and cfg.eval_size == 1000 and cfg.epochs >= 1000
    assert plan_run("bce", 5, 1e-9).lr == 1e-5
    for bad in [("hinge", 5, 1e-3), ("bce", 0, 1e-3), ("bce", 5, -1), ("bce", float("nan"), 1e-3)]:
        with pytest.raises(ValueError):
            plan_run(*bad)


def test_a_run_uses_every_core_whatever_another_thread_set(slot, mnist):
    """torch.set_num_threads(1) in some worker thread also becomes the default of threads
    started later; the page's runs ask for every core explicitly."""
    import torch

    t = threading.Thread(target=torch.set_num_threads, args=(1,))
    t.start()
    t.join()
    try:
        run = slot.start(plan_run("bce", 1, 2e-3), mnist, owner="alice")
        drain(run)
        assert run.threads == cpu_count() and run.cfg.threads == cpu_count()
    finally:
        torch.set_num_threads(cpu_count())  # the default for threads started after this test


def test_checkpoint_names_are_safe():
    assert checkpoint_name({"loss": "bce"}, 120) == "siamese_retrained_bce_120steps.pt"
    assert checkpoint_name({"loss": "../../x"}, 1) == "siamese_retrained_x_1steps.pt"


# -- runs -----------------------------------------------------------------------------------------
def test_a_run_streams_events_and_keeps_a_checkpoint(slot, data_root, mnist):
    run = slot.start(small(3.0), mnist, owner="alice")
    assert slot.current is run
    events = drain(run)
    assert run.join(30) and slot.current is None
    assert events[-1].done and events[-1].reason == "time" and len(events) >= 3
    steps = [e.step for e in events]
    assert steps == sorted(steps) and steps[-1] > 0
    assert all(e.test_pair_accuracy is not None and e.embeddings.shape == (200, 512) for e in events)
    assert run.checkpoint is not None and run.checkpoint["step"] == steps[-1]
    assert set(run.result) >= {"threshold", "calibration", "val_pair_accuracy"}
    assert run.error is None and run.stopped_by == ""


def test_stop_ends_the_run_within_a_second_and_keeps_the_model(slot, mnist):
    run = slot.start(small(60.0), mnist, owner="alice")
    events = []
    t_stop = None
    for ev in run.updates(poll=0.1):
        if ev is not None:
            events.append(ev)
            if len(events) == 2:
                assert slot.stop("bob") == "nothing"  # another session cannot stop it
                t_stop = time.monotonic()
                assert slot.stop("alice") == "stopping"
    assert run.join(10)
    assert events[-1].reason == "stopped" and run.stopped_by == "user"
    # the last event comes after the current step and one probe: well under a second or two
    assert events[-1].elapsed < 10 and time.monotonic() - t_stop < 5
    assert run.checkpoint is not None


def test_one_run_at_a_time_and_the_next_waits_for_an_ending_one(slot, mnist):
    first = slot.start(small(60.0), mnist, owner="alice")
    with pytest.raises(Busy):
        slot.start(small(2.0), mnist, owner="bob", wait=0.5)
    assert first.alive
    threading.Timer(0.5, first.abandon).start()  # e.g. alice's tab closes
    second = slot.start(small(1.0), mnist, owner="bob", wait=30)  # waits for alice's thread to end
    assert not first.alive and first.checkpoint is None  # abandoned: nothing kept
    assert drain(second)[-1].done and second.checkpoint is not None


def test_stop_while_queued_cancels_the_start(slot, mnist):
    slot.wait("carol")
    assert slot.stop("carol") == "unqueued"
    with pytest.raises(Cancelled):
        slot.start(small(1.0), mnist, owner="carol")
    assert slot.current is None
    slot.wait("carol")  # a fresh request is not cancelled by the old Stop
    run = slot.start(small(1.0), mnist, owner="carol")
    drain(run)


def test_a_run_nobody_reads_stops_itself(mnist):
    slot = TrainingSlot(nice=0, orphan_after=0.5)
    run = slot.start(small(60.0), mnist, owner="gone")
    assert run.join(20), "an unread run kept training"
    assert run.stopped_by == "orphaned" and run.checkpoint is None and slot.current is None


def test_a_failing_run_reports_and_frees_the_slot(slot, mnist):
    run = slot.start(small(2.0), mnist, owner="alice", init={"not": "a checkpoint"})
    assert drain(run) == []
    assert run.error and "checkpoint" in run.error and slot.current is None


def test_training_from_a_checkpoint_starts_from_its_weights(slot, mnist, comparator):
    from siamese.checkpoint import make_checkpoint

    init = make_checkpoint(comparator.model)
    run = slot.start(small(1.0), mnist, owner="alice", init=init)
    first = drain(run)[0]
    assert first.test_pair_accuracy > 0.9  # the pretrained model, barely moved
    assert torch.equal(init["state_dict"]["head.weight"], comparator.model.state_dict()["head.weight"])


# -- session models --------------------------------------------------------------------------------
@pytest.fixture
def trained(mnist):
    slot = TrainingSlot(nice=0)
    run = slot.start(TrainConfig(max_steps=5, batch_size=32, eval_every=1e9, eval_size=100), mnist, "x")
    drain(run)
    return run.checkpoint


def test_session_models_register_replace_evict_and_release(comparator, trained, tmp_path):
    models = Models(comparator)
    sessions = SessionModels(models, tmp_path, cap=2)
    a = sessions.register("alice", trained, {"loss": "bce"})
    assert models.comparator(a.key) is not models.comparator(SHIPPED)
    assert a.path.exists() and a.path.name == "siamese_retrained_bce_5steps.pt"
    model, ckpt = load_checkpoint(a.path)  # the download is a normal checkpoint
    assert ckpt["step"] == 5 and ckpt["threshold"] == trained["threshold"]
    assert sessions.owns("alice", a.key) and not sessions.owns("bob", a.key)

    a2 = sessions.register("alice", trained)  # a new run replaces the old model
    assert a2.key != a.key and not a.path.exists()
    assert models.comparator(a.key) is models.comparator(SHIPPED)  # the old key falls back

    b = sessions.register("bob", trained)
    c = sessions.register("carol", trained)  # cap 2: alice's, the oldest, goes
    assert sessions.get("alice") is None and not a2.path.exists() and len(sessions) == 2
    sessions.release("bob")
    assert sessions.get("bob") is None and not b.path.exists()
    assert models.comparator(b.key) is models.comparator(SHIPPED)
    assert sessions.get("carol") is c
