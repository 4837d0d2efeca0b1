"""demo.retrain.runners: the training job run the way ZeroGPU runs it (a forked worker, arguments
and every yield pickled through multiprocessing queues, on CPU here), and the ZeroGPU runner's
fallback to the CPU when a GPU is refused.

No ZeroGPU exists on this machine, so `spaces.GPU` is emulated from its documented behaviour
(spaces 0.51: fork, pickled arguments and results, generators streamed, refusals raised as
gr.Error titled "ZeroGPU ..."); the job, the pickling and the fallback are the real ones."""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
import types
from pathlib import Path

import gradio as gr
import pytest

from demo.retrain import runners
from demo.retrain.runners import RunnerNote, ZeroGPURunner, gpu_job, gpu_seconds
from siamese.checkpoint import checkpoint_from_bytes, make_checkpoint, model_from_checkpoint
from siamese.config import TrainConfig
from siamese.job import JobResult, JobUpdate
from siamese.worker import ProcessRunner

from .conftest import CHECKPOINT


def small(seconds: float = 60.0) -> TrainConfig:
    return TrainConfig(epochs=1000, max_seconds=seconds, batch_size=64, eval_every=0.3, eval_size=200)


def _worker(args_q, out_q):
    """What a ZeroGPU worker does with a generator function: call it with the unpickled
    arguments, put every item on the queue (pickled by multiprocessing's own pickler)."""
    fn, args, kwargs = args_q.get()
    try:
        for item in fn(*args, **kwargs):
            out_q.put(("item", item))
        out_q.put(("end", None))
    except Exception as e:
        out_q.put(("error", f"{type(e).__name__}: {e}"))


def in_forked_worker(fn, *args, **kwargs):
    """fn(*args, **kwargs) streamed from a forked process, as @spaces.GPU does."""
    ctx = multiprocessing.get_context("fork")
    args_q, out_q = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_worker, args=(args_q, out_q), daemon=True)
    proc.start()
    args_q.put((fn, args, kwargs))
    try:
        while True:
            kind, item = out_q.get(timeout=120)
            if kind == "error":
                raise RuntimeError(item)
            if kind == "end":
                return
            yield item
    finally:
        proc.join(10)


def test_the_gpu_job_crosses_a_forked_worker_with_pickled_arguments_and_results(data_root, tmp_path, comparator):
    stop = tmp_path / "stop"
    init = make_checkpoint(comparator.model)
    updates, result = [], None
    for item in in_forked_worker(gpu_job, small(), str(data_root), runners.checkpoint_bytes(init), str(stop),
                                 device="cpu"):
        if isinstance(item, JobUpdate):
            updates.append(item)
            if len(updates) == 2:
                stop.touch()  # what the page's Stop does: the worker sees the same files
        else:
            result = item
    assert isinstance(result, JobResult) and isinstance(result.checkpoint, bytes)
    assert updates[-1].reason == "stopped" and updates[0].pid not in (0, os.getpid())
    assert updates[0].test_pair_accuracy > 0.9  # it started from the shipped weights
    model = model_from_checkpoint(checkpoint_from_bytes(result.checkpoint))
    assert model.config.embedding_dim == comparator.model.config.embedding_dim
    assert checkpoint_from_bytes(result.checkpoint)["step"] == updates[-1].step


def test_gpu_duration_is_the_runs_seconds_plus_set_up():
    assert gpu_seconds(small(30.0), "data", None, "/tmp/x") == 30 + runners.GPU_SETUP_SECONDS
    assert gpu_seconds(TrainConfig(max_seconds=None)) == 60 + runners.GPU_SETUP_SECONDS


@pytest.mark.parametrize("error, refused", [
    (gr.Error("You have exceeded your ZeroGPU quota (150s requested vs. 40s left).", title="ZeroGPU quota exceeded"), True),
    (gr.Error("No GPU was available after 60s", title="ZeroGPU queue timeout"), True),
    (gr.Error("The requested GPU duration (330s) is larger than the maximum allowed",
              title="ZeroGPU illegal duration"), True),
    (gr.Error("GPU task aborted", title="ZeroGPU worker error"), False),  # the job itself failed
    (RuntimeError("ZeroGPU API /schedule error (502)"), True),
    (ValueError("a bug of ours"), False),
])
def test_what_counts_as_zerogpu_refusing_a_gpu(error, refused):
    assert runners._refused_gpu(error) is refused


@pytest.fixture
def fake_spaces(monkeypatch):
    """A `spaces` module whose GPU decorator behaves as `behaviour` says: "fork" streams the
    function from a forked worker, "quota" refuses like an exhausted visitor's quota."""
    mod = types.ModuleType("spaces")
    mod.behaviour = "fork"
    mod.durations = []

    def GPU(duration):
        def decorate(fn):
            def call(*args, **kwargs):
                mod.durations.append(duration(*args, **kwargs))
                if mod.behaviour == "quota":
                    raise gr.Error("You have exceeded your ZeroGPU quota (50s requested vs. 0s left).",
                                   title="ZeroGPU quota exceeded")
                yield from in_forked_worker(fn, *args, device="cpu", **kwargs)
            return call
        return decorate

    mod.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", mod)
    return mod


def drain(runner, cfg, data_root, stop_file):
    items = list(runner.run(cfg, str(data_root), None, str(stop_file)))
    return items, [i for i in items if isinstance(i, JobUpdate)], items[-1]


def test_zerogpu_runner_trains_in_the_worker_and_returns_a_checkpoint_dict(fake_spaces, data_root, tmp_path):
    items, updates, result = drain(ZeroGPURunner(), small(2.0), data_root, tmp_path / "stop")
    assert fake_spaces.durations == [2 + runners.GPU_SETUP_SECONDS]
    assert not any(isinstance(i, RunnerNote) for i in items)
    assert isinstance(result, JobResult) and isinstance(result.checkpoint, dict)  # bytes again a dict
    assert updates[-1].done and model_from_checkpoint(result.checkpoint) is not None


def test_zerogpu_runner_falls_back_to_the_cpu_when_the_quota_is_spent(fake_spaces, data_root, tmp_path):
    fake_spaces.behaviour = "quota"
    runner = ZeroGPURunner(fallback=ProcessRunner(nice=0, device="cpu"))
    items, updates, result = drain(runner, small(2.0), data_root, tmp_path / "stop")
    assert isinstance(items[0], RunnerNote) and "quota" in items[0].text and "CPU" in items[0].text
    assert updates and all(u.device == "cpu" for u in updates)
    assert isinstance(result, JobResult) and result.checkpoint["step"] == updates[-1].step


def test_pick_runner_follows_spaces_zero_gpu(fake_spaces, monkeypatch):
    monkeypatch.delenv(runners.ZERO_GPU_ENV, raising=False)
    assert isinstance(runners.pick_runner(), ProcessRunner)
    monkeypatch.setenv(runners.ZERO_GPU_ENV, "true")
    picked = runners.pick_runner()
    assert isinstance(picked, ZeroGPURunner) and picked.fallback.device == "cpu"
    assert "ZeroGPU" in picked.describe()


def test_app_py_imports_spaces_first_on_zerogpu(fake_spaces, monkeypatch):
    """On a ZeroGPU Space app.py imports spaces before the page (and torch's CUDA) and turns
    off Gradio's wrapping of every handler in @spaces.GPU (comparisons stay on the CPU)."""
    calls = []
    fake_spaces.disable_gradio_auto_wrap = lambda: calls.append(time.monotonic())
    monkeypatch.setenv(runners.ZERO_GPU_ENV, "true")
    source = (Path(CHECKPOINT).parents[1] / "app.py").read_text()
    assert source.index("import spaces") < source.index("from demo.app import main")
    exec(compile(source.replace("from demo.app import main", "main = None"), "app.py", "exec"),
         {"__name__": "app"})
    assert len(calls) == 1
