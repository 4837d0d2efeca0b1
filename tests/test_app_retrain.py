"""/retrain_api through gradio_client against a server launched in-process: progress streams from
a training process of its own, cancel frees the machine, a killed training process is an error
and the next run works, a second client queues, /compare keeps answering meanwhile. Runs replay
recorded training (tests/replay.py) except where the training process is the subject.

(That the retrained model becomes the session's model in Compare is tested at the handler level
in test_demo_retrain.py: session state is not reachable through the API.)"""
from __future__ import annotations

import functools
import os
import signal
import time
from unittest import mock

import httpx

import numpy as np
import pytest

from demo.examples import example_pairs
from demo.retrain.slot import MAX_SECONDS_ENV
from siamese.checkpoint import excluded_digits, load_checkpoint

from .helpers import compare

pytestmark = pytest.mark.app


@pytest.fixture
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def submit(client, seconds, loss="bce", lr=2e-3, init="scratch", **more):
    return client.submit(loss=loss, seconds=seconds, lr=lr, init=init, api_name="/retrain_api", **more)


@pytest.fixture
def slot(page_server):
    """The served page's training slot."""
    return page_server.retrain.slot


def wait_free(slot, timeout: float = 10.0) -> float:
    """Seconds until no run holds the machine."""
    t0 = time.monotonic()
    while slot.current is not None:
        assert time.monotonic() - t0 < timeout, "the training slot was not freed"
        time.sleep(0.05)
    return time.monotonic() - t0


def first_update(job, timeout: float = 60.0):
    t0 = time.monotonic()
    while not job.outputs():
        assert time.monotonic() - t0 < timeout, f"no progress within {timeout} s: {job.status()}"
        time.sleep(0.05)
    return job.outputs()[0]


def test_retrain_streams_progress_and_returns_a_checkpoint(client, slot, real_training):
    updates = list(submit(client, seconds=4))
    progress = [u[0] for u in updates]
    assert len(progress) >= 3
    steps = [p["step"] for p in progress]
    assert steps == sorted(steps) and steps[-1] > steps[0] >= 0
    assert all(p["test_pair_accuracy"] is None or 0 <= p["test_pair_accuracy"] <= 1 for p in progress)
    assert progress[-1]["test_pair_accuracy"] is not None and all(p["pairs_per_s"] >= 0 for p in progress)
    assert {p["pid"] for p in progress} == {progress[0]["pid"]} != {os.getpid()}  # not the server's process
    final, path = updates[-1]
    assert final["status"] == "done" and final["reason"] == "time" and final["seconds"] == 4
    assert final["threshold"] is not None and 0 <= final["val_pair_accuracy"] <= 1
    _, ckpt = load_checkpoint(path)
    assert ckpt["step"] == final["step"] and ckpt["train_config"]["loss"] == "bce"
    assert all(u[1] is None for u in updates[:-1])
    # called as before exclude_digits existed: nothing hidden, no split figures
    assert final["exclude_digits"] == [] and final["unseen_pair_accuracy"] is None and excluded_digits(ckpt) == ()
    wait_free(slot)


def test_retrain_without_some_digits_streams_seen_and_unseen_accuracy(client, slot):
    updates = list(submit(client, seconds=4, exclude_digits="7,8,9"))
    progress = [u[0] for u in updates]
    assert all(p["exclude_digits"] == [7, 8, 9] for p in progress)
    probed = [p for p in progress if p["test_pair_accuracy"] is not None]
    assert probed and progress[-1] in probed  # the last update always probes
    for p in probed:
        assert 0 <= p["seen_pair_accuracy"] <= 1 and 0 <= p["unseen_pair_accuracy"] <= 1
    final, path = updates[-1]
    assert final["status"] == "done"
    _, ckpt = load_checkpoint(path)
    assert excluded_digits(ckpt) == (7, 8, 9) and ckpt["step"] == final["step"]
    wait_free(slot)


def test_the_api_documents_its_parameters(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    for name in ("/retrain_api", "/class_retrain_api"):
        params = {p["parameter_name"]: p for p in api[name]["parameters"]}
        assert list(params) == ["loss", "seconds", "lr", "init", "exclude_digits"]
        assert params["exclude_digits"]["parameter_has_default"] and params["exclude_digits"]["parameter_default"] == ""


def test_the_server_caps_the_length(client, monkeypatch):
    monkeypatch.setenv(MAX_SECONDS_ENV, "2")
    final, _ = list(submit(client, seconds=3600, loss="triplet"))[-1]
    assert final["seconds"] == 2 and final["elapsed_s"] < 10


def test_bad_parameters_are_errors(client, slot):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="loss must be one of"):
        submit(client, seconds=2, loss="hinge").result()
    with pytest.raises(AppError, match="init"):
        submit(client, seconds=2, init="yesterday").result()
    with pytest.raises(AppError, match="all ten"):
        submit(client, seconds=2, exclude_digits="0,1,2,3,4,5,6,7,8,9").result()
    assert slot.current is None


def test_cancel_ends_the_run_and_frees_the_slot(client, slot, held_replay):
    job = submit(client, seconds=120)
    first_update(job)
    run = slot.current
    assert run is not None and run.alive
    t0 = time.monotonic()
    # Gradio answers the cancel once it could close the handler's generator, between two of its
    # updates (a second apart): longer than httpx's 5-s default once on a loaded CI machine.
    with mock.patch("httpx.post", functools.partial(httpx.post, timeout=90)):
        job.cancel()
    wait_free(slot, timeout=60)
    print(f"cancel -> slot free in {time.monotonic() - t0:.1f} s")
    assert run.stopped_by in ("abandoned", "orphaned")
    # and the next client trains at once (a replay that ends by itself)
    held_replay.hold = False
    final, _ = list(submit(client, seconds=2))[-1]
    assert final["status"] == "done"


def test_a_killed_training_process_is_an_error_and_the_next_run_works(client, slot, real_training):
    from gradio_client.exceptions import AppError

    job = submit(client, seconds=60)
    pid = first_update(job)[0]["pid"]
    os.kill(pid, signal.SIGKILL)  # the OOM killer, say
    with pytest.raises(AppError, match="killed"):
        job.result()
    wait_free(slot)
    assert compare(client, *example_pairs()[0])["same"] is True  # the server did not notice
    final, _ = list(submit(client, seconds=2))[-1]
    assert final["status"] == "done" and final["pid"] != pid


def test_a_second_client_queues_while_compare_keeps_answering(server, slot, slow_replay):
    from gradio_client import Client
    from gradio_client.utils import Status

    alice, bob, carol = (Client(server, verbose=False) for _ in range(3))
    job_a = submit(alice, seconds=6)  # a replay lasting 12 s
    first_update(job_a)
    job_b = submit(bob, seconds=2)
    seen = set()
    latencies = []
    a, b = example_pairs()[1]
    while not job_a.done():
        seen.add(job_b.status().code)
        t = time.perf_counter()
        assert compare(carol, a, b)["same"] is False
        latencies.append(time.perf_counter() - t)
    assert Status.IN_QUEUE in seen, seen  # bob waited for alice's run
    assert job_a.outputs()[-1][0]["status"] == "done"
    final_b, _ = job_b.result()
    assert final_b["status"] == "done"
    # /compare kept answering during the run; the real figures are in the issue report
    assert len(latencies) >= 5 and float(np.percentile(latencies, 50)) < 2.0, latencies
    wait_free(slot)

