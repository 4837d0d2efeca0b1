"""Where a page run trains: the one training job (`siamese.job.train_job`) run somewhere other
than the server's own threads, its items streamed back.

    runner = pick_runner()                 # ZeroGPU on a ZeroGPU Space, else a child process
    for item in runner.run(cfg, data_dir, init, stop_file):
        ...                                # JobUpdate, JobUpdate, ..., JobResult

- ProcessRunner (siamese.worker): a child process at a lower CPU priority, using the cores the
  server leaves idle; the job picks CUDA with bf16 when the server has a GPU. A child that
  dies (a crash, the OOM killer, SIGKILL) raises TrainingFailed saying how.
- ZeroGPURunner: inside `@spaces.GPU` (a worker process Hugging Face forks and lends a GPU for
  the call, arguments and yields pickled). When the visitor's GPU quota is spent or no GPU is
  free, it falls back to a ProcessRunner and says so (a RunnerNote) before the first update.

Stopping is the job's stop file either way: the caller creates it; the job ends after its
current step and still sends its checkpoint.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass

from siamese.checkpoint import checkpoint_bytes, checkpoint_from_bytes
from siamese.config import TrainConfig
from siamese.job import JobResult, train_job
from siamese.worker import ProcessRunner, TrainingFailed

from ..limits import TRAIN_NICE

log = logging.getLogger(__name__)

ZERO_GPU_ENV = "SPACES_ZERO_GPU"
GPU_SETUP_SECONDS = 20  # what a ZeroGPU call needs besides training: worker, CUDA, MNIST, threshold


@dataclass
class RunnerNote:
    """A runner's word for the page before (or instead of) updates, e.g. a fallback."""

    text: str


def on_zero_gpu() -> bool:
    """Whether this is a ZeroGPU Space (Hugging Face sets SPACES_ZERO_GPU=true there)."""
    return os.environ.get(ZERO_GPU_ENV, "").lower() in ("1", "true")


def gpu_seconds(cfg: TrainConfig, *args, **kwargs) -> int:
    """The ZeroGPU `duration` of a run: its training seconds plus set-up (spaces calls this
    with the job's own arguments)."""
    return int((cfg.max_seconds or 60) + GPU_SETUP_SECONDS)


def gpu_job(cfg: TrainConfig, data_dir=None, init: bytes | None = None, stop_file=None, device: str = "cuda"):
    """train_job on the GPU the ZeroGPU worker holds (`device`, for the record; tests pass
    "cpu"). The checkpoints cross as bytes both ways: spaces pickles with multiprocessing's
    pickler, which hands tensors over as shared memory.

    One CPU thread: the worker is forked from the server, whose torch has run OpenMP threads
    (every comparison); GNU OpenMP in such a child hangs at its first parallel region unless it
    runs a single thread (seen here). The CPU does little in this job: the data and the steps
    live on the GPU."""
    cfg = TrainConfig(**{**cfg.to_dict(), "device": device, "threads": 1})
    init = None if init is None else checkpoint_from_bytes(init)
    for item in train_job(cfg, data_dir, init, stop_file):
        if isinstance(item, JobResult):
            item = dataclasses.replace(item, checkpoint=checkpoint_bytes(item.checkpoint))
        yield item


def _refused_gpu(e: BaseException) -> bool:
    """Whether `e` is ZeroGPU refusing a GPU (quota spent, none free, a duration over the
    limit, its API down) rather than the training failing. spaces raises gr.Error titled
    "ZeroGPU ..." for all of these (spaces 0.51 zero/client.py); a job that fails in the worker
    comes back titled "ZeroGPU worker error", and that is a failure, not a refusal."""
    title = str(getattr(e, "title", "") or "")
    if title.startswith("ZeroGPU"):
        return title != "ZeroGPU worker error"
    return isinstance(e, RuntimeError) and "ZeroGPU API" in str(e)


class ZeroGPURunner:
    """The job inside `@spaces.GPU`, falling back to a ProcessRunner on the Space's CPU."""

    def __init__(self, fallback: ProcessRunner | None = None):
        import spaces  # before anything touches CUDA: app.py imports this module first on ZeroGPU

        self._gpu = spaces.GPU(duration=gpu_seconds)(gpu_job)
        self.fallback = fallback or ProcessRunner(nice=TRAIN_NICE, device="cpu")

    def describe(self) -> str:
        return "a ZeroGPU worker (a GPU lent for the run; the CPU if none is free)"

    def warm(self) -> None:
        self.fallback.warm()

    def run(self, cfg: TrainConfig, data_dir=None, init: dict | None = None, stop_file: str | None = None):
        started = False
        try:
            for item in self._gpu(cfg, data_dir, None if init is None else checkpoint_bytes(init), stop_file):
                started = True
                if isinstance(item, JobResult):
                    item = dataclasses.replace(item, checkpoint=checkpoint_from_bytes(item.checkpoint))
                yield item
            return
        except Exception as e:
            if started or not _refused_gpu(e):
                raise TrainingFailed(f"{getattr(e, 'title', '') or type(e).__name__}: {e}") from e
            log.warning("ZeroGPU refused the run (%s): training on the CPU", e)
            reason = str(e).strip() or type(e).__name__
        yield RunnerNote(f"No GPU for this run ({reason[:160]}): training on the CPU instead.")
        yield from self.fallback.run(cfg, data_dir, init, stop_file)


def pick_runner():
    """ZeroGPURunner on a ZeroGPU Space, else a ProcessRunner."""
    if on_zero_gpu():
        try:
            return ZeroGPURunner()
        except ImportError:
            log.warning("%s is set but the spaces package is missing: training in a process", ZERO_GPU_ENV)
    return ProcessRunner(nice=TRAIN_NICE)

