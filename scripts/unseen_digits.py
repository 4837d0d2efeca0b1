"""Digits it never saw (issue 14): train each configuration without some digits, score seen and
unseen pairs, print one table.

    .venv/bin/python scripts/unseen_digits.py --data-dir data                      # every config
    .venv/bin/python scripts/unseen_digits.py --configs bce,generalise --max-seconds 120
    .venv/bin/python scripts/unseen_digits.py --configs triplet --max-steps 20 --json
    .venv/bin/python scripts/unseen_digits.py --configs generalise --layers    # + each layer's AUC

Every configuration trains from seed 0 on the digits left after --exclude (default 7,8,9; they
leave the training and validation splits, so the threshold is chosen on seen digits), then is
scored by `siamese.evaluate.evaluate_splits` on the fixed test pairs (seed 0): seen-only,
unseen-only and mixed pairs.

The budget is the same for every row: --max-seconds S of training, or --max-steps N (default:
the steps that make 2 minutes on the quiet 2-core machine of docs/measurements.md's Speed table, which
does QUIET_PAIRS_PER_S pairs/s at the default batch size; every step makes 2 pairs per image).
A configuration whose steps cost more than the blog's (`cost` below: BatchNorm) gets
proportionally fewer steps, so each row is charged the same compute. Steps are the unit to use
on a busy machine, where seconds measure the neighbours.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the siamese package, from a checkout

import torch  # noqa: E402
from torch import nn  # noqa: E402

from siamese import metrics as M  # noqa: E402
from siamese.config import PRESETS, ModelConfig, TrainConfig, parse_digits  # noqa: E402
from siamese.evaluate import embed_images, evaluate_splits  # noqa: E402
from siamese.pairs import split_pairs  # noqa: E402
from siamese.train import Trainer, set_threads  # noqa: E402

# docs/measurements.md, Speed: our trainer on the quiet 2-vCPU machine at batch 256 (bf16, channels_last).
QUIET_PAIRS_PER_S = 5386
QUIET_SECONDS = 120.0


@dataclasses.dataclass(frozen=True)
class Config:
    """One row: architecture and training options over the defaults (the blog's), and the
    compute one step costs relative to the blog network's (measured side by side, bf16)."""

    model: dict
    train: dict
    cost: float = 1.0
    note: str = ""


# The table's rows, in its order. A "+" adds one thing to a row above (named in `note`).
# BatchNorm's steps cost 1.3x the blog's (bf16, measured side by side on the 2-core CPU).
CONFIGS: dict[str, Config] = {
    "bce": Config({}, {"loss": "bce"}, note="the blog: head on (a-b)^2, random pairs"),
    "contrastive": Config({}, {"loss": "contrastive"}, note="Euclidean, margin 1"),
    "triplet": Config({}, {"loss": "triplet"}, note="Euclidean, margin 1"),
    "triplet+norm": Config({"normalize": True}, {"loss": "triplet", "margin": 0.2},
                           note="unit descriptors, margin 0.2"),
    "triplet+norm+hard": Config({"normalize": True}, {"loss": "triplet", "margin": 0.2, "mining": "hard"},
                                note="+ batch-hard mining"),
    "triplet+norm+semihard": Config({"normalize": True},
                                    {"loss": "triplet", "margin": 0.2, "mining": "semihard"},
                                    note="semi-hard mining instead"),
    "triplet+norm+hard+bn": Config({"normalize": True, "batchnorm": True},
                                   {"loss": "triplet", "margin": 0.2, "mining": "hard"}, cost=1.3,
                                   note="+ BatchNorm"),
    "contrastive+norm": Config({"normalize": True}, {"loss": "contrastive", "margin": 1.0},
                               note="unit descriptors, margin 1, random pairs"),
    "contrastive+norm+hard": Config({"normalize": True},
                                    {"loss": "contrastive", "margin": 1.0, "mining": "hard"},
                                    note="+ batch-hard mining"),
    "contrastive+norm+hard+linear": Config({"normalize": True, "final_relu": False},
                                           {"loss": "contrastive", "margin": 1.0, "mining": "hard"},
                                           note="+ no ReLU after the last layer"),
    "contrastive+norm+hard+bn": Config({"normalize": True, "batchnorm": True},
                                       {"loss": "contrastive", "margin": 1.0, "mining": "hard"}, cost=1.3,
                                       note="+ BatchNorm"),
    "supcon": Config({"normalize": True}, {"loss": "supcon", "temperature": 0.1},
                     note="supervised contrastive: every pair in the batch, cosine, t 0.1"),
}
TABLE = list(CONFIGS)  # what a plain run trains
# The presets of siamese.config can be run by name too (the shipped "blog" is the "bce" row).
for _name, _preset in PRESETS.items():
    if _name != "blog":
        CONFIGS[_name] = Config(_preset["model"], _preset["train"], _preset.get("cost", 1.0),
                                note=f"preset {_name!r}")

COLUMNS = ("seen acc", "seen AUC", "unseen acc", "unseen AUC", "mixed acc", "unseen 1-shot",
           "steps", "train s")


def quiet_steps(batch_size: int) -> int:
    """Steps that make QUIET_SECONDS of training on docs/measurements.md's quiet machine."""
    return math.ceil(QUIET_SECONDS * QUIET_PAIRS_PER_S / (2 * batch_size))


def run_config(name: str, data, args) -> dict:
    """Train one configuration (seeded) without args.exclude, then score its splits."""
    c = CONFIGS[name]
    steps = None
    if args.max_seconds is None:
        steps = max(1, round((args.max_steps or quiet_steps(args.batch_size)) / c.cost))
    train = {"batch_size": args.batch_size, "seed": args.seed, "device": args.device, "amp": args.amp,
             "threads": args.threads, **c.train}
    cfg = TrainConfig(epochs=1e6, max_steps=steps, max_seconds=args.max_seconds, eval_every=1e9,
                      eval_size=200, exclude_digits=args.exclude, **train)
    trainer = Trainer(cfg, data=data, model_config=ModelConfig(**c.model))
    last = None
    for last in trainer.run():
        pass
    splits = evaluate_splits(trainer.model.eval(), trainer.data, args.exclude)
    layers = stage_aucs(trainer.model, trainer.data.test, args.exclude, args.seed) if args.layers else None
    return {"layers": layers, "config": name, "note": c.note, "model_config": trainer.model.config.to_dict(),
            "train_config": {k: v for k, v in cfg.to_dict().items() if k in train or k == "margin"},
            "steps": trainer.step, "train_seconds": round(last.train_seconds, 1),
            "pairs_per_s": round(2 * cfg.batch_size * trainer.step / max(last.train_seconds, 1e-9)),
            "splits": splits}


def stage_names(model) -> dict[int, str]:
    """{index in model.tower: name} of the tower's stages whose outputs --layers scores: each
    convolution's and the hidden linear layer's (after its ReLU) and the pooling's. The
    descriptor itself is scored apart (with final_relu off, the linear layer is the descriptor)."""
    names, last, convs = {}, None, 0
    for i, m in enumerate(model.tower):
        if isinstance(m, nn.Conv2d):
            convs += 1
            last = f"conv{convs}"
        elif isinstance(m, nn.Linear):
            last = "linear"
        elif isinstance(m, nn.MaxPool2d):
            names[i] = "pool"
        elif isinstance(m, nn.ReLU):
            names[i] = last
    return names


def stage_features(model, images: torch.Tensor, batch_size: int | None = None) -> dict[str, torch.Tensor]:
    """{stage: (N, F) unit-length flattened output} for `images` (N, 28, 28), and "descriptor":
    one `embed_images` pass, the stages caught on the way by forward hooks."""
    out = {}
    hooks = [model.tower[i].register_forward_hook(
        lambda m, inp, y, name=name: out.setdefault(name, []).append(y.flatten(1).float()))
        for i, name in stage_names(model).items()]
    try:
        out["descriptor"] = [embed_images(model, images, batch_size)]
    finally:
        for h in hooks:
            h.remove()
    return {k: torch.nn.functional.normalize(torch.cat(v), dim=1) for k, v in out.items()}


def stage_aucs(model, test, unseen, seed: int = 0) -> dict[str, dict[str, float]]:
    """{stage: {"seen": AUC, "unseen": AUC}}: how well the Euclidean distance between unit-length
    outputs of each stage ranks the fixed seen-only and unseen-only test pairs. Where a model
    specialises to the digits it saw: the stage where unseen AUC falls while seen AUC rises."""
    feats = stage_features(model, test.images)
    pairs = split_pairs(test.labels, unseen, seed)
    out = {}
    for name, f in feats.items():
        out[name] = {}
        for split in ("seen", "unseen"):
            a, b, same = pairs[split]
            out[name][split] = M.roc_auc((f[a] - f[b]).pow(2).sum(1), same.to(f.device))
    return out


def layers_table(rows: list[dict]) -> str:
    """Unseen AUC by stage (seen AUC in brackets), one row per config."""
    stages = list(rows[0]["layers"])
    lines = ["| config | " + " | ".join(stages) + " |", "| --- |" + " ---: |" * len(stages)]
    for r in rows:
        cells = [f"{r['layers'][s]['unseen']:.3f} ({r['layers'][s]['seen']:.3f})" if s in r["layers"] else "-"
                 for s in stages]
        lines.append(f"| {r['config']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def row_cells(r: dict) -> list[str]:
    s = r["splits"]

    def f(split, key):
        v = s[split][key]
        return "-" if v is None else f"{v:.3f}"

    return [f("seen", "pair_accuracy"), f("seen", "roc_auc"), f("unseen", "pair_accuracy"),
            f("unseen", "roc_auc"), f("mixed", "pair_accuracy"), f("unseen", "one_shot_accuracy"),
            str(r["steps"]), f"{r['train_seconds']:.0f}"]


def markdown_table(rows: list[dict]) -> str:
    lines = ["| config | " + " | ".join(COLUMNS) + " |", "| --- |" + " ---: |" * len(COLUMNS)]
    lines += [f"| {r['config']} | " + " | ".join(row_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/unseen_digits.py", description=__doc__.split("\n\n")[0],
                                epilog="configs: " + ", ".join(CONFIGS))
    p.add_argument("--data-dir", default=None, help="MNIST root (default: $SIAMESE_DATA_DIR or ./data)")
    p.add_argument("--exclude", default="7,8,9", help="digits to train without (default 7,8,9)")
    p.add_argument("--configs", default=",".join(TABLE),
                   help="comma-separated names (default: docs/research.md's table, every config but the presets)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--max-steps", type=int, default=None,
                        help=f"steps per config for a cost-1 config (default: {quiet_steps(256)} at batch "
                             f"256, 2 minutes on docs/measurements.md's quiet machine)")
    budget.add_argument("--max-seconds", type=float, default=None,
                        help="train each config this many wall seconds instead (a quiet machine)")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", choices=("auto", "on", "off"), default="auto", help="bfloat16 autocast")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--layers", action="store_true",
                   help="also score each stage of the tower (its unit-length output, Euclidean): "
                        "unseen and seen AUC by layer, a second table")
    p.add_argument("--json", action="store_true", help="also print every row as one JSON line at the end")
    a = p.parse_args(argv)
    try:
        a.exclude = parse_digits(a.exclude)
    except ValueError as e:
        p.error(f"--exclude: {e}")
    if not a.exclude:
        p.error("--exclude: name at least one digit to hold out")
    a.configs = [c.strip() for c in a.configs.split(",") if c.strip()]
    unknown = [c for c in a.configs if c not in CONFIGS]
    if unknown:
        p.error(f"unknown configs {unknown}; known: {', '.join(CONFIGS)}")
    return a


def main(argv=None) -> int:
    from siamese.data import load_mnist
    from siamese.device import pick_device

    args = parse_args(argv)
    set_threads(args.threads)
    data = load_mnist(args.data_dir, pick_device(args.device))
    budget = (f"{args.max_seconds:g} s each" if args.max_seconds is not None else
              f"{args.max_steps or quiet_steps(args.batch_size)} steps each at batch {args.batch_size}, "
              f"fewer for costlier steps")
    print(f"train without digits {','.join(map(str, args.exclude))}; {budget}", flush=True)
    rows = []
    for name in args.configs:
        t0 = time.perf_counter()
        r = run_config(name, data, args)
        rows.append(r)
        print(f"{name}: " + ", ".join(f"{c} {v}" for c, v in zip(COLUMNS, row_cells(r)))
              + f" ({r['pairs_per_s']} pairs/s, {time.perf_counter() - t0:.0f} s with evaluation)", flush=True)
    print()
    print(markdown_table(rows))
    if args.layers:
        print()
        print("unseen AUC (seen AUC) of each stage's unit-length output:")
        print(layers_table(rows))
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
