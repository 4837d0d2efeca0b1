"""One training run as a plain function: picklable inputs in, picklable progress out. What the
page runs in a child process, in a ZeroGPU worker, or (in tests) wherever it likes.

    for item in train_job(cfg, data_dir="data", init=None, stop_file="/tmp/stop"):
        if isinstance(item, JobUpdate): ...   # about one per cfg.eval_every seconds
        else: item.checkpoint                 # JobResult, the last item: the trained model

It shares nothing with its caller: the model, the optimiser and MNIST live in the job; what
comes back is small (the live map travels as 2-D points, not descriptors) except the final
checkpoint, a dict of CPU tensors (`checkpoint.make_checkpoint`). Stopping is a file: when
`stop_file` exists the run ends after its current step and still returns its checkpoint, so a
caller in another process (or machine) only needs to create it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import ModelConfig, TrainConfig
from .device import CoreShare
from .projection import LiveMap
from .train import Trainer, set_threads


@dataclass
class JobUpdate:
    """One progress report (a `train.TrainEvent` with its map made 2-D). Picklable."""

    step: int
    epoch: float
    elapsed: float  # wall seconds since training started
    train_seconds: float
    loss: float
    pairs_per_s: float
    lr: float
    test_pair_accuracy: float | None  # None when this event skipped the probe
    map_xy: np.ndarray | None = field(default=None, repr=False)  # (eval_size, 2) float32, LiveMap
    map_labels: np.ndarray | None = field(default=None, repr=False)  # (eval_size,) int64
    done: bool = False
    reason: str = ""  # steps | time | stopped, on the last update
    device: str = ""  # where the job trains: "cpu", "cuda (NVIDIA H200)"
    pid: int = 0  # the process it trains in
    threads: int = 0  # torch's CPU threads there
    # With TrainConfig.exclude_digits: probe accuracy on seen-only and unseen-only pairs
    # (TrainEvent's fields of the same names); None otherwise or when the probe was skipped.
    seen_pair_accuracy: float | None = None
    unseen_pair_accuracy: float | None = None
    val_one_shot_accuracy: float | None = None  # held-out Omniglot alphabets' episodes (TrainEvent's)


@dataclass
class JobResult:
    """The job's last item: the trained model and how its threshold was chosen."""

    checkpoint: dict  # make_checkpoint(): weights (CPU), configs, threshold, calibration, step
    threshold: float
    val_pair_accuracy: float | None
    last: JobUpdate  # the final progress report, again


def describe_device(device) -> str:
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def lower_priority(nice: int) -> None:
    """Let the rest of the machine (a web server, say) come first: renice this process."""
    if nice > 0 and hasattr(os, "nice"):
        try:
            os.nice(nice)
        except OSError as e:
            print(f"could not lower the training priority: {e}", file=sys.stderr)


def train_job(cfg: TrainConfig, data_dir=None, init: dict | None = None, stop_file: str | None = None,
              nice: int = 0, share_cores: bool = False):
    """Train a model as `cfg` says and yield JobUpdates, then one JobResult.

    data_dir: MNIST's folder (not part of cfg: the config travels in the checkpoint and must
    not carry this machine's paths). init: a checkpoint dict to start from (its model_config
    and state_dict, CPU tensors), or None for random weights. stop_file: a path whose
    existence stops the run (the checkpoint so far still comes back). nice: how much to lower
    this process's priority first. Sets torch's threads to cfg.threads (the job owns its
    process); share_cores: after every update, only as many of them as other processes left
    idle (`device.CoreShare`; for a job beside a busy web server). Raises what training raises
    (e.g. siamese.data.DataUnavailableError)."""
    import torch

    lower_priority(nice)
    set_threads(cfg.threads)
    # Measured from now on: by the first step, the set-up below shows what the others use.
    share = CoreShare(torch.get_num_threads()) if share_cores else None
    model_config = init_state = None
    if init is not None:
        from .checkpoint import model_from_checkpoint

        model = model_from_checkpoint(init)  # validated: architecture, shapes, finite weights
        model_config, init_state = model.config, model.state_dict()
    if data_dir is not None:
        cfg = TrainConfig(**{**cfg.to_dict(), "data_dir": str(Path(data_dir))})
    trainer = Trainer(cfg, model_config=model_config or ModelConfig(), init_state=init_state)
    if trainer.device.type != "cpu":
        share = None  # a GPU's work does not wait on CPU threads
    if share is not None:
        torch.set_num_threads(share.threads())
    device, pid, threads = describe_device(trainer.device), os.getpid(), torch.get_num_threads()
    should_stop = (lambda: os.path.exists(stop_file)) if stop_file else None
    live = LiveMap()
    last = None
    for ev in trainer.run(should_stop=should_stop):
        last = JobUpdate(
            step=ev.step, epoch=ev.epoch, elapsed=ev.elapsed, train_seconds=ev.train_seconds, loss=ev.loss,
            pairs_per_s=ev.pairs_per_s, lr=ev.lr, test_pair_accuracy=ev.test_pair_accuracy,
            map_xy=None if ev.embeddings is None else live(ev.embeddings),
            map_labels=None if ev.labels is None else ev.labels.numpy().astype(np.int64),
            done=ev.done, reason=ev.reason, device=device, pid=pid, threads=threads,
            seen_pair_accuracy=ev.seen_pair_accuracy, unseen_pair_accuracy=ev.unseen_pair_accuracy,
            val_one_shot_accuracy=ev.val_one_shot_accuracy)
        yield last
        if share is not None:  # the training loop waits at this yield: safe to resize its pool
            threads = share.threads()
            torch.set_num_threads(threads)
    result = trainer.finalize(full_eval=False, fast=True)  # threshold, calibration: validation pairs
    ckpt = trainer.checkpoint(result)
    ckpt["train_config"].pop("data_dir", None)  # this machine's path stays here
    yield JobResult(ckpt, float(result["threshold"]), result.get("val_pair_accuracy"), last)
