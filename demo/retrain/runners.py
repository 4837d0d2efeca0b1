"""Where a page run trains: the one training job (`siamese.job.train_job`) run somewhere other
than the server's own threads, its items streamed back.

    runner = pick_runner()                 # ZeroGPU on a ZeroGPU Space, else a child process
    for item in runner.run(cfg, data_dir, init, stop_file):
        ...                                # JobUpdate, JobUpdate, ..., JobResult

- ProcessRunner (siamese.worker): a child process at a lower CPU priority, using the cores the
  server leaves idle; the job picks CUDA with bf16 when the server has a GPU. A child that
  dies (a crash, the OOM killer, SIGKILL) raises TrainingFailed saying how.
- ZeroGPURunner: inside `@spaces.GPU` (a daemonic worker process forked from the server and
  lent a GPU for the call; the job runs in a thread there, arguments and yields pickled). When
  the visitor's GPU quota is spent or no GPU is free, it falls back to a ProcessRunner and says
  so (a RunnerNote) before the first update.

A ZeroGPU call charges the visitor's daily quota for its `duration` times the hardware's factor
(`quota_seconds`): the page's note before a run and the table in the README and
docs/hosting.md come from there.

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
# spaces multiplies the duration a call asks for by the hardware's factor before it checks the
# visitor's quota (spaces 0.51.3, zero/client.py get_duration_seconds; zero/configs.json: 1.5 on
# the RTX PRO 6000 Blackwell ZeroGPU runs on now, 1.0 on H200; none for size="xlarge"). On a
# Space the runner reads the factor from spaces itself (`duration_factor`).
DURATION_FACTOR = 1.5
# A visitor's ZeroGPU quota a day, in seconds (the Spaces docs' usage tiers; anonymous visitors
# are told apart by IP address, so a class behind one school network shares one).
DAILY_QUOTA = {"without an account": 120, "free account": 300, "PRO account": 2400}
WORKER_FAILED = "Training failed"  # the title of gpu_job's own errors, which spaces lets through


@dataclass
class RunnerNote:
    """A runner's word for the page before (or instead of) updates, e.g. a fallback."""

    text: str


def on_zero_gpu() -> bool:
    """Whether this is a ZeroGPU Space (Hugging Face sets SPACES_ZERO_GPU=true there)."""
    return os.environ.get(ZERO_GPU_ENV, "").lower() in ("1", "true")


def gpu_duration(run_seconds: float) -> int:
    """The ZeroGPU `duration` a run of `run_seconds` asks for: those seconds plus set-up."""
    return int(run_seconds + GPU_SETUP_SECONDS)


def gpu_seconds(cfg: TrainConfig, *args, **kwargs) -> int:
    """`gpu_duration` of a run's config (spaces calls this with the job's own arguments)."""
    return gpu_duration(cfg.max_seconds or 60)


def quota_seconds(run_seconds: float, factor: float = DURATION_FACTOR) -> int:
    """What a run of `run_seconds` takes from the visitor's daily ZeroGPU quota: the duration
    it asks for (`gpu_duration`) times the hardware's factor, rounded as spaces rounds it.
    30 s of training asks for 50 s and takes 75 s at the factor 1.5."""
    return round(gpu_duration(run_seconds) * factor)


def duration_factor() -> float:
    """The factor spaces applies on this machine (its own configuration, read as it reads it);
    DURATION_FACTOR where spaces cannot say."""
    try:
        from spaces.zero import config, default_gpu_size

        return 1.0 if default_gpu_size() == "xlarge" else float(config.get_config()["duration_factor"])
    except Exception:  # not on a Space, or a spaces that keeps it elsewhere
        return DURATION_FACTOR


def daily_quotas() -> str:
    """'120 s without an account, 300 s free account, 2,400 s PRO account', for people."""
    return ", ".join(f"{s:,} s {who}" for who, s in DAILY_QUOTA.items())


def quota_note(run_seconds: float, factor: float = DURATION_FACTOR) -> str:
    """The page's word before a ZeroGPU run, for people."""
    return (f"this run will ask for {quota_seconds(run_seconds, factor)} s of your daily GPU quota "
            f"({gpu_duration(run_seconds)} s with its set-up, \u00d7{factor:g} on this "
            f"hardware; a day has {daily_quotas()}). If that is more than you have left, it trains on the CPU.")


def quota_table(lengths: dict[str, float], factor: float = DURATION_FACTOR) -> str:
    """A Markdown table of what each run length takes from a day's quota (the README's)."""
    who = list(DAILY_QUOTA)
    head = (["length", "asks ZeroGPU for", f"takes from the quota (\u00d7{factor:g})"]
            + [f"runs a day, {w} ({DAILY_QUOTA[w]:,} s)" for w in who])
    rows = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(head) - 1)) + " |"]
    for name, seconds in lengths.items():
        q = quota_seconds(seconds, factor)
        runs = [str(DAILY_QUOTA[w] // q) for w in who]
        rows.append(f"| {name} | {gpu_duration(seconds)} s | {q} s | " + " | ".join(runs) + " |")
    return "\n".join(rows)


def gpu_job(cfg: TrainConfig, data_dir=None, init: bytes | None = None, stop_file=None, device: str = "cuda"):
    """train_job on the GPU the ZeroGPU worker holds (`device`, for the record; tests pass
    "cpu"). The checkpoints cross as bytes both ways: spaces pickles with multiprocessing's
    pickler, which hands tensors over as shared memory.

    One CPU thread: the worker is forked from the server, whose torch has run OpenMP threads
    (every comparison); GNU OpenMP in such a child hangs at its first parallel region unless it
    runs a single thread (seen here). The CPU does little in this job: the data and the steps
    live on the GPU.

    Its own failures leave as a gr.Error titled WORKER_FAILED: spaces passes a gr.Error through
    as it is, where any other exception reaches the server as "ZeroGPU worker error" with only
    its class name. Runs in the worker's thread, which is a daemonic process: nothing here may
    start a multiprocessing child."""
    try:
        cfg = TrainConfig(**{**cfg.to_dict(), "device": device, "threads": 1})
        init = None if init is None else checkpoint_from_bytes(init)
        for item in train_job(cfg, data_dir, init, stop_file):
            if isinstance(item, JobResult):
                item = dataclasses.replace(item, checkpoint=checkpoint_bytes(item.checkpoint))
            yield item
    except Exception as e:
        import gradio as gr  # in the worker, forked from the server that has it

        raise gr.Error(f"{type(e).__name__}: {e}", title=WORKER_FAILED, print_exception=False) from None


def _message(e: BaseException) -> str:
    """An exception's text for people (a gr.Error's str() is the repr of its message)."""
    return str(getattr(e, "message", None) or e).strip() or type(e).__name__


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

    def __init__(self, fallback: ProcessRunner | None = None, device: str = "cuda"):
        """device: where gpu_job trains in the worker (tests, without a GPU, pass "cpu")."""
        import spaces  # before anything touches CUDA: app.py imports this module first on ZeroGPU

        self._gpu = spaces.GPU(duration=gpu_seconds)(gpu_job)
        self.fallback = fallback or ProcessRunner(nice=TRAIN_NICE, device="cpu")
        self.factor = duration_factor()
        self.device = device

    def describe(self) -> str:
        return "a ZeroGPU worker (a GPU lent for the run; the CPU if none is free)"

    def quota_note(self, run_seconds: float) -> str:
        return quota_note(run_seconds, self.factor)

    def warm(self) -> None:
        self.fallback.warm()

    def run(self, cfg: TrainConfig, data_dir=None, init: dict | None = None, stop_file: str | None = None):
        started = False
        try:
            for item in self._gpu(cfg, data_dir, None if init is None else checkpoint_bytes(init), stop_file,
                                  device=self.device):
                started = True
                if isinstance(item, JobResult):
                    item = dataclasses.replace(item, checkpoint=checkpoint_from_bytes(item.checkpoint))
                yield item
            return
        except Exception as e:
            if started or not _refused_gpu(e):
                title = getattr(e, "title", "") or type(e).__name__
                raise TrainingFailed(_message(e) if title == WORKER_FAILED else f"{title}: {_message(e)}") from e
            reason = _message(e)
            log.warning("ZeroGPU refused the run (%s): training on the CPU", reason)
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

