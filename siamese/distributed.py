"""Data-parallel training across the processes torchrun starts (PyTorch DDP).

    torchrun --nproc_per_node=2 -m siamese.train --epochs 15 --out runs/ddp.pt

torchrun gives each process RANK, WORLD_SIZE and LOCAL_RANK; `process_group` joins them (nccl
when the ranks train on CUDA, gloo on CPU). Without that environment everything here does
nothing and training runs as one process, exactly as before.

How a step is split (see `Trainer`): `--batch-size` is the global batch. Every rank draws the
same seeded permutation, batch and random numbers; each embeds only its rows of the batch
(`shard`), the descriptors are gathered (`gather_rows`), and every rank computes the loss of
the whole batch, with the same in-batch partners as one process would draw. The gather's
backward hands each rank the gradient of its rows summed over the W identical losses, that is
W times the one-process gradient; DDP's all-reduce averages over the W ranks, which undoes the
W. So one DDP step is one single-process step on the same global batch, up to float rounding.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import nn

from .device import pick_device


def launched() -> bool:
    """Whether this process was started by torchrun (or anything that sets its variables)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def local_device(setting: str = "auto") -> torch.device:
    """This process's device: `pick_device(setting)`, and under torchrun on CUDA the GPU named by
    LOCAL_RANK (one GPU per process; an explicit cuda:N is replaced by it)."""
    device = pick_device(setting)
    if device.type != "cuda" or not launched():
        return device
    local = int(os.environ.get("LOCAL_RANK", 0))
    if local >= torch.cuda.device_count():
        raise ValueError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA devices here: "
                         "start at most one process per GPU (--nproc_per_node)")
    return torch.device("cuda", local)


@contextmanager
def process_group(setting: str = "auto"):
    """Join torchrun's process group for the block and leave it afterwards: nccl when this
    rank's device (`local_device(setting)`) is CUDA, else gloo. Outside torchrun, nothing."""
    if not launched() or dist.is_initialized():
        yield
        return
    device = local_device(setting)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def world() -> tuple[int, int]:
    """(rank, world size) of the joined process group; (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard_sizes(n: int, world_size: int) -> list[int]:
    """Rows of an n-row batch that each rank takes, as even as can be (the first n % W ranks
    take one more): 10 rows over 4 ranks -> [3, 3, 2, 2]."""
    return [n // world_size + (r < n % world_size) for r in range(world_size)]


def shard(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """[start, stop) of `rank`'s rows in an n-row batch (contiguous, disjoint, covering it)."""
    sizes = shard_sizes(n, world_size)
    start = sum(sizes[:rank])
    return start, start + sizes[rank]


def gather_rows(t: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Every rank's rows, in rank order, on every rank: (sizes[rank], ...) -> (sum(sizes), ...).

    Differentiable: the backward gives each rank the gradient of its own rows summed over all
    ranks (a reduce-scatter). Shards of unequal size are padded to the largest for the
    collective, which needs equal shapes, and the padding is dropped."""
    from torch.distributed._functional_collectives import all_gather_single  # the non-deprecated gather

    m = max(sizes)
    if t.shape[0] < m:
        t = torch.cat([t, t.new_zeros(m - t.shape[0], *t.shape[1:])])
    g = all_gather_single(t, 0, dist.group.WORLD)  # (W * m, ...)
    if all(s == m for s in sizes):
        return g
    return torch.cat([g[r * m : r * m + s] for r, s in enumerate(sizes)])


def control_group(device: torch.device):
    """A CPU (gloo) group for `from_main`'s per-step message: with nccl a broadcast would go
    through the GPU and make the CPU wait for it every step. None: the default group is gloo."""
    return dist.new_group(backend="gloo") if device.type == "cuda" else None


def from_main(values: list[float], group=None) -> list[float]:
    """Rank 0's `values` on every rank (a CPU broadcast): the decisions that must agree
    across ranks, such as the clock a time limit reads and a stop request."""
    t = torch.tensor(values, dtype=torch.float64)
    dist.broadcast(t, src=0, group=group)
    return t.tolist()


class GlobalBatchLoss(nn.Module):
    """What DDP wraps (its hooks run on a module's forward): this rank's images in, the loss of
    the whole global batch out.

    forward(x, labels, generator): x (sizes[rank], 1, 28, 28), this rank's shard; labels (B,)
    of the global batch, the same on every rank. `pair_loss(net, emb, labels, generator)`
    scores the gathered (B, D) descriptors exactly as a single process scores its batch.
    """

    def __init__(self, net: nn.Module, pair_loss, world_size: int):
        super().__init__()
        self.net = net
        self.pair_loss = pair_loss
        self.world_size = world_size

    def forward(self, x: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        emb = gather_rows(self.net.embed(x), shard_sizes(labels.shape[0], self.world_size))  # (B, D)
        return self.pair_loss(self.net, emb, labels, generator)
