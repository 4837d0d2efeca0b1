"""The training job (`siamese.job.train_job`) in a child process, its items streamed back:

    runner = ProcessRunner(nice=10)
    for item in runner.run(cfg, data_dir, init, stop_file):   # JobUpdate, ..., JobResult
        ...

For a program that must stay responsive while a model trains (the page's server): the child
has its own interpreter and GIL, runs at a lower priority, uses the cores the others leave
idle (`device.CoreShare`), and its death (a crash, the OOM killer, SIGKILL) is a clean
TrainingFailed here, not a dead server.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal

from .config import TrainConfig
from .job import JobResult, train_job

log = logging.getLogger(__name__)

PROCESS_NICE = 10  # the child's priority below its parent's: serving comes first


class TrainingFailed(RuntimeError):
    """The job ended without its result; the message says why, for people."""


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "did not end"
    if code < 0:
        try:
            return f"was killed ({signal.Signals(-code).name})"
        except ValueError:
            return f"was killed (signal {-code})"
    return f"exited with status {code}"


def _nothing() -> None:
    pass


def _child(conn, job: bytes) -> None:
    """The child process: run the job, send every item, or the error as text.

    Both ways everything crosses as plain pickles (bytes), tensors included: multiprocessing's
    own pickler would hand tensors over as shared memory, which must outlive the sender."""
    try:
        cfg, data_dir, init, stop_file, nice = pickle.loads(job)
        for item in train_job(cfg, data_dir, init, stop_file, nice=nice, share_cores=True):
            conn.send_bytes(pickle.dumps(item))
    except BaseException as e:  # the parent reports it; nothing else to do here
        conn.send_bytes(pickle.dumps(TrainingFailed(f"{type(e).__name__}: {e}")))
    finally:
        conn.close()


class ProcessRunner:
    """The job in a child process of this server. One context per runner: forkserver where the
    platform has it (children fork from a small server that has already imported torch, not
    from this process with its threads and sockets), spawn elsewhere.

    device: forced on every run ("cpu" for ZeroGPU's fallback, where the main process's torch
    claims a CUDA device it does not have); None keeps the run's own (auto: CUDA if present)."""

    def __init__(self, nice: int = PROCESS_NICE, device: str | None = None):
        self.nice, self.device = nice, device
        methods = multiprocessing.get_all_start_methods()
        self._ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if self._ctx.get_start_method() == "forkserver":
            # torch and the trainer imported once, in the fork server. Nothing may compute with
            # torch there: a child forked after torch's OpenMP threads started hangs in its
            # first parallel op (seen: MNIST's label file, 0 s of CPU for 19 minutes).
            self._ctx.set_forkserver_preload(["siamese.job"])

    def describe(self) -> str:
        import torch

        if self.device != "cpu" and torch.cuda.is_available():
            where = f"the GPU ({torch.cuda.get_device_name(0)})"
        else:
            where = f"{cpu_count()} CPU core{'s' if cpu_count() > 1 else ''}"
        return f"a separate training process on {where}"

    def warm(self) -> None:
        """Have the fork server up, with torch imported (seconds), so the first run starts fast:
        one child that does nothing, waited for."""
        proc = self._ctx.Process(target=_nothing, name="siamese-warm", daemon=True)
        proc.start()
        proc.join(60)

    def run(self, cfg: TrainConfig, data_dir=None, init: dict | None = None, stop_file: str | None = None):
        """Yield the job's items as the child sends them; raise TrainingFailed if it dies first."""
        if self.device is not None:
            cfg = TrainConfig(**{**cfg.to_dict(), "device": self.device})
        recv, send = self._ctx.Pipe(duplex=False)
        job = pickle.dumps((cfg, data_dir, init, stop_file, self.nice))
        proc = self._ctx.Process(target=_child, args=(send, job), name="siamese-train", daemon=True)
        proc.start()
        send.close()  # the child holds the only sending end: its death is EOF here
        log.info("retrain: training process pid %d started (%s)", proc.pid, self._ctx.get_start_method())
        try:
            while True:
                try:
                    item = pickle.loads(recv.recv_bytes())
                except EOFError:
                    break
                if isinstance(item, TrainingFailed):
                    raise item
                yield item
                if isinstance(item, JobResult):
                    return
            proc.join(5)
            raise TrainingFailed(f"the training process (pid {proc.pid}) {_exit_reason(proc.exitcode)} "
                                 f"before it sent its model")
        finally:
            recv.close()
            proc.join(10)
            if proc.is_alive():  # a caller that gave up (stop file ignored, or generator closed)
                proc.kill()
                proc.join(5)
            log.info("retrain: training process pid %d ended: %s", proc.pid, _exit_reason(proc.exitcode))


def cpu_count() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
