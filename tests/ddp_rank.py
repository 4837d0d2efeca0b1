"""One rank of tests/test_distributed.py's 2-process run, started by torchrun:

    python -m torch.distributed.run --standalone --nproc_per_node=2 -m tests.ddp_rank OUT_DIR TRAIN_ARGS...

It runs the training CLI's own code (`siamese.train.train_from_args`, inside
`distributed.process_group`, as `python -m siamese.train` does) and then writes what this rank
holds to OUT_DIR/rank{R}.pt: the weights and the gradients of the last step. With
DDP_RANK_AMP=on,off each rank's CPU calibration answers bf16 (on) or fp32 (off), as two ranks
timing apart under load can.
"""
import os
import sys
from pathlib import Path

import torch

from siamese import device, distributed
from siamese.train import parse_args, train_from_args


def main(argv: list[str]) -> int:
    out_dir, train_args = Path(argv[0]), argv[1:]
    cfg, args = parse_args(train_args)
    with distributed.process_group(cfg.device):
        rank, _ = distributed.world()
        forced = os.environ.get("DDP_RANK_AMP")  # e.g. "on,off": what each rank's calibration says
        if forced:
            device._calibration = device.Calibration(forced.split(",")[rank] == "on", 1, {})
        trainer = train_from_args(cfg, args)
        if trainer is None:
            return 2
        named = list(trainer.model.named_parameters())
        torch.save({"weights": {k: p.detach().clone() for k, p in named},
                    "grads": {k: p.grad.detach().clone() for k, p in named if p.grad is not None},
                    "step": trainer.step}, out_dir / f"rank{rank}.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
