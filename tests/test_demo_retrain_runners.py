"""demo.retrain.runners: the training job run the way ZeroGPU runs it, the ZeroGPU runner's
fallback to the CPU when a GPU is refused, and the quota a run takes.

No ZeroGPU exists on this machine, so `spaces` is tests/fake_spaces.py, a stand-in modelled on
spaces 0.51.3 (a daemonic forked worker running the task in a thread, the duration scaled by
the hardware's factor, titled refusals at the first next() before any fork, a worker's own
exceptions hidden behind "ZeroGPU worker error"); its own tests come first. The job, the
pickling and the fallback are the real ones."""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from demo.retrain import runners
from demo.retrain.runners import RunnerNote, ZeroGPURunner, gpu_job, gpu_seconds, quota_seconds
from demo.retrain.slot import PRESETS
from demo.retrain.tab import quota_info
from siamese.checkpoint import checkpoint_from_bytes, make_checkpoint, model_from_checkpoint
from siamese.config import TrainConfig
from siamese.job import JobResult, JobUpdate
from siamese.worker import ProcessRunner, TrainingFailed

from . import fake_spaces as fake_spaces_module
from .conftest import CHECKPOINT


def small(seconds: float = 60.0) -> TrainConfig:
    return TrainConfig(epochs=1000, max_seconds=seconds, batch_size=64, eval_every=0.3, eval_size=200)


@pytest.fixture
def fake_spaces(monkeypatch):
    return fake_spaces_module.install(monkeypatch)


# -- the stand-in behaves like spaces 0.51.3 ---------------------------------------------------------
def where_am_i():
    yield os.getpid(), threading.current_thread() is threading.main_thread(), multiprocessing.current_process().daemon


def start_a_child():
    proc = multiprocessing.get_context("fork").Process(target=time.sleep, args=(0,))
    proc.start()  # a daemonic process may not
    proc.join()
    yield "started"


def fails(exc):
    def task():
        raise exc
        yield

    return task


def test_the_fake_worker_is_a_daemonic_forked_process_running_the_task_in_a_thread(fake_spaces):
    pid, main_thread, daemonic = next(fake_spaces.GPU(duration=10)(where_am_i)())
    assert pid != os.getpid() and not main_thread and daemonic


def test_the_fake_worker_may_not_start_multiprocessing_children(fake_spaces):
    with pytest.raises(gr.Error) as e:
        list(fake_spaces.GPU(duration=10)(start_a_child)())
    assert (e.value.title, e.value.message) == ("ZeroGPU worker error", "AssertionError")


def test_the_fake_hides_a_workers_exception_behind_its_class_name_but_passes_gr_errors(fake_spaces):
    with pytest.raises(gr.Error) as e:
        list(fake_spaces.GPU(duration=10)(fails(ValueError("the details")))())
    assert (e.value.title, e.value.message) == ("ZeroGPU worker error", "ValueError")
    with pytest.raises(gr.Error) as e:
        list(fake_spaces.GPU(duration=10)(fails(gr.Error("the details", title="Mine")))())
    assert (e.value.title, e.value.message) == ("Mine", "the details")


def test_the_fake_refuses_at_the_first_next_before_any_fork_and_scales_the_duration(fake_spaces):
    fake_spaces.quota_left = 74
    gen = fake_spaces.GPU(duration=lambda n: n)(where_am_i_n)(50)
    assert fake_spaces.requested == [] and fake_spaces.forks == 0  # a call alone does nothing
    with pytest.raises(gr.Error) as e:
        next(gen)
    assert e.value.title == "ZeroGPU quota exceeded" and "75s requested vs. 74s left" in e.value.message
    assert fake_spaces.requested == [75] and fake_spaces.forks == 0
    fake_spaces.quota_left = 75
    assert list(fake_spaces.GPU(duration=50)(where_am_i_n)(1)) == [1] and fake_spaces.forks == 1
    assert fake_spaces.quota_left == 0  # a granted call spends what it asked for
    fake_spaces.quota_left = 50
    assert list(fake_spaces.GPU(duration=50, size="xlarge")(where_am_i_n)(1)) == [1]
    assert fake_spaces.requested == [75, 75, 50]  # xlarge is not scaled
    fake_spaces.gpu_free = False
    with pytest.raises(gr.Error, match="No GPU was available") as e:
        next(fake_spaces.GPU(duration=1)(where_am_i_n)(1))
    assert e.value.title == "ZeroGPU queue timeout"


def where_am_i_n(n):
    yield n


def counting():
    i = 0
    while True:
        yield i
        i += 1
        time.sleep(0.01)


def test_closing_the_fake_generator_stops_its_worker(fake_spaces):
    gen = fake_spaces.GPU(duration=10)(counting)()
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    t0 = time.monotonic()
    gen.close()  # the stop event: the worker closes the task after its next item and ends
    assert time.monotonic() - t0 < 30


# -- the job in that worker --------------------------------------------------------------------------
def test_the_gpu_job_crosses_the_worker_with_pickled_arguments_and_results(fake_spaces, data_root, tmp_path,
                                                                           comparator):
    stop = tmp_path / "stop"
    init = make_checkpoint(comparator.model)
    updates, result = [], None
    gpu = fake_spaces.GPU(duration=gpu_seconds)(gpu_job)
    for item in gpu(small(), str(data_root), runners.checkpoint_bytes(init), str(stop), device="cpu"):
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


def drain(runner, cfg, data_root, stop_file):
    items = list(runner.run(cfg, str(data_root), None, str(stop_file)))
    return items, [i for i in items if isinstance(i, JobUpdate)], items[-1]


def test_zerogpu_runner_trains_in_the_worker_and_returns_a_checkpoint_dict(fake_spaces, data_root, tmp_path):
    fake_spaces.quota_left = quota_seconds(2.0)  # just enough
    items, updates, result = drain(ZeroGPURunner(device="cpu"), small(2.0), data_root, tmp_path / "stop")
    assert fake_spaces.requested == [quota_seconds(2.0)] and fake_spaces.forks == 1
    assert not any(isinstance(i, RunnerNote) for i in items)
    assert isinstance(result, JobResult) and isinstance(result.checkpoint, dict)  # bytes again a dict
    assert updates[-1].done and model_from_checkpoint(result.checkpoint) is not None
    assert updates[0].pid != os.getpid()


def test_zerogpu_runner_falls_back_to_the_cpu_when_the_quota_is_one_second_short(fake_spaces, data_root, tmp_path):
    fake_spaces.quota_left = quota_seconds(2.0) - 1  # 33 s asked for (22 s x 1.5), 32 s left
    runner = ZeroGPURunner(fallback=ProcessRunner(nice=0, device="cpu"), device="cpu")
    items, updates, result = drain(runner, small(2.0), data_root, tmp_path / "stop")
    note = items[0]
    assert isinstance(note, RunnerNote) and "33s requested vs. 32s left" in note.text and "CPU" in note.text
    assert "('" not in note.text  # the message, not the repr a gr.Error's str() gives
    assert fake_spaces.forks == 0
    assert updates and all(u.device == "cpu" for u in updates)
    assert isinstance(result, JobResult) and result.checkpoint["step"] == updates[-1].step


def test_a_job_failing_in_the_worker_says_why_not_just_zerogpu_worker_error(fake_spaces, tmp_path):
    """spaces reduces a worker's exception to its class name; gpu_job's own gr.Error passes."""
    runner = ZeroGPURunner(fallback=ProcessRunner(nice=0, device="cpu"), device="cpu")
    with pytest.raises(TrainingFailed) as e:
        list(runner.run(small(2.0), str(tmp_path), {"not": "a checkpoint"}, str(tmp_path / "stop")))
    assert str(e.value) == "CheckpointError: not a Siamese Digits checkpoint (missing state_dict/model_config)"
    assert fake_spaces.forks == 1  # it failed in the worker, and did not fall back


def test_quota_maths_worked_by_hand():
    assert quota_seconds(30) == 75  # (30 + 20) x 1.5
    assert quota_seconds(120) == 210 > runners.DAILY_QUOTA["without an account"]  # never fits an anonymous day
    assert quota_seconds(10) == 45 and quota_seconds(30, factor=1.0) == 50
    assert "75 s of your daily GPU quota" in runners.quota_note(30)


def test_the_page_reads_the_factor_from_spaces_and_says_what_each_length_takes(fake_spaces):
    fake_spaces.duration_factor = 2.0
    runner = ZeroGPURunner(device="cpu")
    assert runner.factor == 2.0 and "this run will ask for 100 s" in runner.quota_note(30)
    info = quota_info(SimpleNamespace(slot=SimpleNamespace(runner=runner)), PRESETS)
    assert "quick \u2248 30 s takes 100 s" in info and "\u00d72 on this hardware" in info
    fake_spaces.duration_factor, fake_spaces.default_size = 1.5, "xlarge"
    assert ZeroGPURunner(device="cpu").factor == 1.0
    assert quota_info(SimpleNamespace(slot=SimpleNamespace(runner=ProcessRunner())), PRESETS) == ""


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
    monkeypatch.setenv(runners.ZERO_GPU_ENV, "true")
    source = (Path(CHECKPOINT).parents[1] / "app.py").read_text()
    assert source.index("import spaces") < source.index("from demo.app import main")
    exec(compile(source.replace("from demo.app import main", "main = None"), "app.py", "exec"),
         {"__name__": "app"})
    assert fake_spaces.auto_wrap_disabled == 1
