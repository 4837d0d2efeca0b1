"""Training: a short loop in labelled phases that reports progress as events.

    python -m siamese.train --epochs 12 --out checkpoints/siamese_mnist.pt
    torchrun --nproc_per_node=2 -m siamese.train --epochs 12 --out runs/ddp.pt   # data-parallel

The trainer knows nothing about who watches. `Trainer.run()` yields `TrainEvent`s (the CLI
prints them, the page plots them, tests assert on them); `Trainer.stop()` may be called from any
thread and the run ends at the next step with the model trained so far.

Under torchrun the same loop trains data-parallel (siamese.distributed): each rank embeds its
shard of every global batch, DDP averages the gradients, and rank 0 alone probes, prints and
saves. Its clock and stop requests decide for every rank, so all stop after the same step.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import distributed
from . import metrics as M
from .augment import distort
from .checkpoint import load_checkpoint, make_checkpoint, write_checkpoint
from .config import (DATA, LOSSES, MINING, PRESETS, ROTATIONS, SCHEDULES, THRESHOLDS, ModelConfig, TrainConfig,
                     describe_data, metric_for_loss, parse_alphabets, parse_digits)
from .data import MNIST, NUM_CLASSES, DataUnavailableError
from .device import autocast, calibrate, use_amp
from .evaluate import (ProgressProbe, choose_threshold, embed_images, evaluate, pair_distances, print_splits,
                       score_episodes)
from .losses import all_pairs_loss, bce_loss, distance_matrix, contrastive_loss, supcon_loss, triplet_loss
from .model import SiameseNet
from .mining import mine
from .oneshot import Episodes
from .pairs import ClassBatches, episode_pairs
from .preprocess import to_float
from .symbols import Symbols, load_training_data

FAST_VAL_IMAGES = 2500  # finalize(fast=True): the validation images a page run's threshold uses


@dataclass
class TrainEvent:
    """One progress report. `done` marks the last one of a run."""

    step: int
    epoch: float
    elapsed: float  # wall seconds since the run started (model set-up excluded)
    train_seconds: float  # of which spent in training steps (no evaluation, no watcher)
    loss: float  # mean loss since the previous event
    pairs_per_s: float  # pairs (2 per anchor image) per second since the previous event
    lr: float
    test_pair_accuracy: float | None = None  # on the fixed probe subset; None if no probe ran
    threshold: float | None = None  # chosen on validation pairs (seen digits only)
    embeddings: torch.Tensor | None = field(default=None, repr=False)  # (eval_size, D) on CPU
    labels: torch.Tensor | None = field(default=None, repr=False)  # (eval_size,)
    done: bool = False
    reason: str = ""  # why the run ended: steps | time | stopped
    # With TrainConfig.exclude_digits: accuracy on the probe's pairs of seen digits only and of
    # unseen (excluded) digits only, at the same threshold; None without exclusions or probe.
    seen_pair_accuracy: float | None = None
    unseen_pair_accuracy: float | None = None
    # With held-out Omniglot alphabets: the mean accuracy of their fixed one-shot episodes (the
    # model-selection score); None otherwise or when the probe was skipped.
    val_one_shot_accuracy: float | None = None

    def line(self) -> str:
        acc = "" if self.test_pair_accuracy is None else f" | test pair acc {self.test_pair_accuracy:.4f}"
        if self.seen_pair_accuracy is not None:
            acc += f" (seen {self.seen_pair_accuracy:.4f}"
            acc += "" if self.unseen_pair_accuracy is None else f", unseen {self.unseen_pair_accuracy:.4f}"
            acc += ")"
        if self.val_one_shot_accuracy is not None:
            acc += f" | val 1-shot {self.val_one_shot_accuracy:.4f}"
        return (f"step {self.step:6d} | epoch {self.epoch:6.2f} | loss {self.loss:.4f} | "
                f"lr {self.lr:.2e} | {self.pairs_per_s:8.0f} pairs/s{acc} | {self.elapsed:7.1f} s")


def lr_factor(progress: float, warmup: float, schedule: str = "cosine") -> float:
    """Linear warm-up, then cosine decay to 0 (or, schedule "constant", the peak rate held);
    `progress` in [0, 1] is the fraction of the run."""
    if progress < warmup:
        return max(progress / warmup, 0.02)
    if schedule == "constant":
        return 1.0
    p = (progress - warmup) / max(1.0 - warmup, 1e-8)
    return 0.5 * (1.0 + math.cos(math.pi * min(p, 1.0)))


class Trainer:
    """Trains a model of its own: built from `model_config` (default: the blog's network) with
    the metric the loss implies (`config.metric_for_loss`: head for bce, Euclidean otherwise),
    its weights random or copied from `init_state` (a state dict, e.g. a checkpoint's). Nothing
    the caller holds is changed; `trainer.model` is the model being trained.

    It leaves torch's thread count alone: `cfg.threads` is applied by whoever owns the process
    (`set_threads`, called by the CLI and the page's training job), since with OpenMP the
    setting sticks to the calling thread and the threads it starts later.

    When a torch.distributed process group is joined (torchrun + `distributed.process_group`)
    it trains data-parallel: `cfg.batch_size` stays the global batch, this rank embeds its
    `distributed.shard` of it (batch_size / world_size rows, give or take one), and only rank 0
    keeps a progress probe. Every rank must build its Trainer with the same settings.

    data: what `cfg.data` names, loaded by `symbols.load_training_data` unless given (MNIST or
    `symbols.Symbols`; tests pass stand-ins), with `episodes` (`oneshot.Episodes`, the
    validation one-shot score) where it has them.
    """

    def __init__(self, cfg: TrainConfig, data: MNIST | Symbols | None = None,
                 model_config: ModelConfig | None = None, init_state: dict | None = None,
                 episodes: Episodes | None = None):
        self.cfg = cfg
        self.rank, self.world_size = distributed.world()
        if cfg.batch_size < self.world_size:
            raise ValueError(f"batch_size {cfg.batch_size} is smaller than the {self.world_size} ranks")
        if cfg.compile and self.world_size > 1:
            raise ValueError("--compile is not supported under torchrun")
        self.device = distributed.local_device(cfg.device)
        self.amp = use_amp(cfg.amp, self.device)
        if self.world_size > 1 and cfg.amp == "auto" and self.device.type == "cpu":
            # `auto` on a CPU is a timing (calibrate), taken on each rank: under load two ranks
            # can measure apart, and a bf16 rank gathering descriptors with an fp32 one is a
            # collective of two sizes (gloo aborted: "8192 vs 4096"). Rank 0's answer holds.
            self.amp = bool(distributed.from_main([float(self.amp)])[0])
        torch.manual_seed(cfg.seed)
        if data is None:
            data, episodes = load_training_data(cfg, self.device)
        # Excluded digits leave training and validation; the test set keeps them to score them.
        self.data = data.excluding(cfg.exclude_digits) if isinstance(data, MNIST) else data
        self.episodes = episodes
        config = model_config or ModelConfig()
        # supcon learns cosine similarity: its descriptors are unit length, scored by their
        # Euclidean distance (sqrt(2 - 2 cos), the same order).
        config = dataclasses.replace(config, metric=metric_for_loss(cfg.loss),
                                     normalize=config.normalize or cfg.loss == "supcon")
        self.model = SiameseNet(config)
        if init_state is not None:
            self.model.load_state_dict(init_state)
        self.model = self.model.to(self.device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.train_images = self.data.train.images.to(self.device)  # (N, 28, 28) uint8
        self.train_labels = self.data.train.labels.to(self.device)
        # Labels run 0..num_classes-1 (some may be empty: excluded digits); random partners (mining)
        # size their tensors by it, so nothing waits on the device.
        self.num_classes = int(self.train_labels.max()) + 1
        # cfg.digit_classes: the digits (labels 0-9; the characters come after) are drawn apart
        self.class_batches = (ClassBatches(self.train_labels, cfg.per_class,
                                           reserved=range(NUM_CLASSES) if cfg.digit_classes else None)
                              if cfg.per_class else None)
        cb = self.class_batches
        if cb is not None and len(cb.classes) + min(cfg.digit_classes, len(cb.reserved)) < cfg.batch_size // cfg.per_class:
            raise ValueError(f"--per-class {cfg.per_class}: fewer than {cfg.batch_size // cfg.per_class} classes "
                             f"have {cfg.per_class} training images")
        self.probe = (ProgressProbe(self.data, cfg.eval_size, seed=0, unseen=cfg.exclude_digits, episodes=episodes)
                      if self.rank == 0 else None)
        self._ddp = self._control = None
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            # Contrastive and triplet losses never use the head: DDP must be told, or it waits
            # for the head's gradients forever.
            self._ddp = DistributedDataParallel(
                distributed.GlobalBatchLoss(self.model, self._pair_loss, self.world_size),
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=cfg.loss != "bce")
            self._control = distributed.control_group(self.device)
        self.step = 0
        self.train_seconds = 0.0
        self._stop = threading.Event()
        self._probe_at, self._probe_cost = 0.0, 0.0  # when the last probe ended, how long it took
        # cfg.keep_best: (val one-shot score, step, weights) of the best event so far
        self._best: tuple[float, int, dict] | None = None
        self.kept_step: int | None = None  # the step whose weights the run ended with, if not the last

    def stop(self) -> None:
        """Ask the run to end after the current step (safe from any thread)."""
        self._stop.set()

    @property
    def total_steps(self) -> int:
        per_epoch = math.ceil(len(self.train_labels) / self.cfg.batch_size)
        steps = max(1, math.ceil(self.cfg.epochs * per_epoch))
        return min(steps, self.cfg.max_steps) if self.cfg.max_steps else steps

    def _pair_loss(self, model, emb, labels, gen):
        """emb (B, D), labels (B,): the batch's loss over partners drawn inside it."""
        cfg = self.cfg
        if cfg.loss == "supcon":  # every pair in the batch: no partners to draw
            return supcon_loss(emb, labels, cfg.temperature)
        if cfg.mining == "all":  # every pair of the batch, from one (B, B) matrix
            diff = model.pair_logit_matrix(emb) if cfg.loss == "bce" else distance_matrix(emb)
            return all_pairs_loss(diff, labels, cfg.loss, cfg.margin)
        pos, neg, pos_ok, neg_ok = mine(cfg.mining, emb, labels, gen, self.num_classes)  # (B,) each
        if cfg.loss == "triplet":
            return triplet_loss(emb, emb[pos], emb[neg], cfg.margin, pos_ok & neg_ok)
        b = torch.cat([pos, neg])  # (2B,) partners; anchors are 0..B-1 twice
        a_emb = torch.cat([emb, emb])
        same = torch.cat([torch.ones_like(labels), torch.zeros_like(labels)]).float()
        valid = torch.cat([pos_ok, neg_ok])
        # Invalid pairs (no partner of that kind in the batch) are relabelled out via weights
        # rather than boolean indexing, which would force a device sync every step.
        if cfg.loss == "bce":
            return bce_loss(model.pair_logits(a_emb, emb[b]), same, valid)
        return contrastive_loss(a_emb, emb[b], same, cfg.margin, valid)

    def run(self, should_stop=None):
        """Train, yielding a TrainEvent every `eval_every` seconds and a final one (done=True).

        should_stop: a cheap callable checked before every step, like `stop()` (e.g. whether a
        stop file exists, for a run in another process)."""
        cfg, model, dev = self.cfg, self.model, self.device
        # Compile the tower's forward itself: torch.compile(model) would hand model.embed (an
        # attribute, not forward) straight to the uncompiled module.
        embed = torch.compile(model.embed) if cfg.compile else model.embed
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator(device=dev).manual_seed(cfg.seed)
        n = len(self.train_labels)
        per_epoch = math.ceil(n / cfg.batch_size)
        total = self.total_steps
        fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format

        model.train()
        start = time.perf_counter()
        last_t, last_step = start, self.step
        loss_sum = torch.zeros((), device=dev)
        perm = torch.randperm(n, device=dev, generator=gen)
        reason = ""
        while True:
            elapsed = time.perf_counter() - start
            stopped = self._stop.is_set() or (should_stop is not None and should_stop())
            if self._ddp is not None:  # rank 0's clock and stop request hold for every rank
                elapsed, stopped = distributed.from_main([elapsed, float(stopped)], self._control)
            progress = self.step / total
            if cfg.max_seconds:
                progress = max(progress, elapsed / cfg.max_seconds)
            if stopped:
                reason = "stopped"
            elif self.step >= total:
                reason = "steps"
            elif cfg.max_seconds and elapsed >= cfg.max_seconds:
                reason = "time"
            lr = cfg.lr * lr_factor(min(progress, 1.0), cfg.warmup, cfg.schedule)
            if reason or time.perf_counter() - last_t >= cfg.eval_every:
                # Events on a steady beat: the next is due eval_every after this one began, the
                # probe and the watchers' handling of it included (timed from its end, a page's
                # screens got an update every 1.3 s instead of every second).
                began = time.perf_counter()
                ev = self._event(start, last_t, last_step, loss_sum, lr, per_epoch, reason)
                if cfg.keep_best:
                    self._keep_best(ev, done=bool(reason))
                yield ev
                if reason:
                    return
                last_t, last_step = began, self.step
                loss_sum = torch.zeros((), device=dev)
            for group in opt.param_groups:
                group["lr"] = lr

            # 1. sample a batch: the next slice of this epoch's permutation (or a class-balanced
            # draw), and this rank's rows of it (all of them in a single process)
            if self.class_batches is not None:  # batch_size / K classes, K images each
                idx = self.class_batches(cfg.batch_size // cfg.per_class, gen, reserved=cfg.digit_classes)  # (B,)
            else:
                i = (self.step % per_epoch) * cfg.batch_size
                if i == 0 and self.step:
                    perm = torch.randperm(n, device=dev, generator=gen)
                idx = perm[i : i + cfg.batch_size]  # (B,)
            lo, hi = distributed.shard(len(idx), self.rank, self.world_size)
            x = to_float(self.train_images[idx[lo:hi]])  # (hi - lo, 1, 28, 28)
            if cfg.augment:
                x = distort(x, gen, **cfg.distortions(), rows=(lo, len(idx)))
            x = x.contiguous(memory_format=fmt)
            labels = self.train_labels[idx]  # (B,): every rank scores the whole batch
            # 2. forward and loss
            with autocast(dev, self.amp):
                if self._ddp is None:
                    loss = self._pair_loss(model, embed(x), labels, gen)
                else:
                    loss = self._ddp(x, labels, gen)
            # 3. step
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            self.step += 1

    def _keep_best(self, ev: TrainEvent, done: bool) -> None:
        """Remember the weights of an event that scores best so far on the validation episodes;
        at the last event, go back to them (`kept_step`) if an earlier one scored higher."""
        score = ev.val_one_shot_accuracy
        if score is not None and (self._best is None or score > self._best[0]):
            state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self._best = (score, self.step, state)
        if done and self._best is not None and self._best[1] != self.step:
            self.model.load_state_dict(self._best[2])
            self.kept_step = self._best[1]

    def _event(self, start, last_t, last_step, loss_sum, lr, per_epoch, reason) -> TrainEvent:
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # the only wait per interval: queued steps count as done
        now = time.perf_counter()
        steps = max(self.step - last_step, 1)
        self.train_seconds += now - last_t
        # The probe runs at every event unless it would take more than cfg.probe_share of the
        # time since the last one; the last event always has it.
        probe = {}
        wait = self._probe_cost * (1 - self.cfg.probe_share) / max(self.cfg.probe_share, 1e-6)
        if self.probe is not None and (reason or now - self._probe_at >= wait):
            probe = self.probe(self.model, amp=self.amp)
            self._probe_at = time.perf_counter()
            self._probe_cost = self._probe_at - now
        return TrainEvent(
            step=self.step,
            epoch=self.step / per_epoch,
            elapsed=now - start,
            train_seconds=self.train_seconds,
            loss=float(loss_sum) / steps,
            pairs_per_s=2 * self.cfg.batch_size * (self.step - last_step) / max(now - last_t, 1e-9),
            lr=lr,
            test_pair_accuracy=probe.get("test_pair_accuracy"),
            threshold=probe.get("threshold"),
            embeddings=probe.get("embeddings"),
            labels=probe.get("labels"),
            done=bool(reason),
            reason=reason,
            seen_pair_accuracy=probe.get("seen_pair_accuracy"),
            unseen_pair_accuracy=probe.get("unseen_pair_accuracy"),
            val_one_shot_accuracy=probe.get("val_one_shot_accuracy"),
        )

    def finalize(self, full_eval: bool = True, fast: bool = False) -> dict:
        """Threshold and calibration from the validation split, plus (optionally) every test
        metric: what a checkpoint carries. fast: for a page run that must hand its model over
        at once (Stop promises it within 2 s): only the first FAST_VAL_IMAGES validation
        images (a random draw: the split is shuffled; 5,000 pairs), embedded with the run's
        bf16 autocast where it has one (2.6x faster on an AMX CPU, descriptors within ~1 %).
        The CLI's checkpoints are chosen on the whole split in fp32. Data without a test split
        (Omniglot alone) gets the threshold only; validation episodes add their score."""
        model = self.model.eval()
        held = None
        if self.cfg.threshold_on == "held-out" and self.episodes is not None:
            held = held_out_threshold(model, self.episodes, amp=fast and self.amp)
        if full_eval and self.data.test is not None:
            result = evaluate(model, self.data, amp=False, unseen=self.cfg.exclude_digits,
                              threshold=None if held is None else held["threshold"])
        else:
            val = self.data.val
            if fast:
                val = val.subset(torch.arange(min(FAST_VAL_IMAGES, len(val))))
            result = choose_threshold(model, val, amp=fast and self.amp)
        if held is not None:  # the threshold and calibration of classes never trained on
            result.update(held)
        if self.episodes is not None:
            result.update(score_episodes(model, self.episodes, amp=fast and self.amp))
        elif isinstance(self.data, Symbols):  # no alphabet held out: those pairs were trained on
            result["train_pair_accuracy"] = result.pop("val_pair_accuracy")
        if self.kept_step is not None:
            result["kept_step"] = self.kept_step
        return result

    def checkpoint(self, result: dict) -> dict:
        """The checkpoint dict of the model as it is now; `result` comes from finalize()."""
        metrics = {k: v for k, v in result.items() if k not in ("calibration", "threshold")}
        train_config = self.cfg.to_dict()
        if self.world_size > 1:
            train_config["world_size"] = self.world_size
        return make_checkpoint(self.model, train_config=train_config, metrics=metrics,
                               threshold=result["threshold"], calibration=result["calibration"],
                               step=self.step)

    def save(self, path, result: dict) -> Path:
        return write_checkpoint(path, self.checkpoint(result))


def held_out_threshold(model: SiameseNet, episodes: Episodes, amp: bool = False) -> dict:
    """Threshold and calibration from pairs of the validation episodes (`pairs.episode_pairs`:
    held-out alphabets, classes the run never trained on), with the accuracy there."""
    emb = embed_images(model, episodes.images, amp=amp)
    a, b, same = episode_pairs(episodes.references, episodes.queries)
    d = pair_distances(model, emb, a.to(emb.device), b.to(emb.device)).cpu()
    same = same.cpu()
    t = M.best_threshold(d, same)
    slope, intercept = M.fit_logistic(d, same)
    return {"threshold": t, "calibration": {"slope": slope, "intercept": intercept},
            "held_out_pair_accuracy": M.accuracy_at(d, same, t)}


def parse_args(argv=None) -> tuple[TrainConfig, argparse.Namespace]:
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="python -m siamese.train",
        description="Train the siamese network on MNIST pairs (or Omniglot's characters: --data) "
                    "and save a checkpoint. "
                    "Prints one progress line per interval. Started by torchrun "
                    "(torchrun --nproc_per_node=N -m siamese.train ...) it trains data-parallel: "
                    "the same global batch and schedule, split over N processes.",
    )
    p.add_argument("--preset", choices=list(PRESETS), default=None,
                   help="start from a named setting (siamese.config.PRESETS): blog is the shipped "
                        "network; generalise the one that carries best to digits it never saw. "
                        "Flags given as well override it")
    p.add_argument("--data-dir", default=None, help="MNIST root (and Omniglot's archives, in its "
                   "omniglot/ folder); downloaded there if missing (default: $SIAMESE_DATA_DIR or ./data)")
    p.add_argument("--data", choices=DATA, default=d.data,
                   help="what to train on: mnist (the digits), omniglot (the background characters of "
                        "Omniglot's two minimal sets; 20-way one-shot episodes on held-out alphabets "
                        "score it) or mnist+omniglot (both; character classes never share a label "
                        "with a digit)")
    p.add_argument("--rotations", type=int, choices=ROTATIONS, default=d.rotations,
                   help="Omniglot: each character turned by 360/N degrees, each turn a class of its own "
                        "(4: 0, 90, 180 and 270 degrees)")
    p.add_argument("--val-alphabets", default=None, metavar="NAMES",
                   help="Omniglot: background alphabets kept out of training to choose the threshold "
                        "and score the validation episodes, e.g. Early_Aramaic,Korean (the default); "
                        "'none' trains on all eight (a final model: no validation score)")
    p.add_argument("--device", default=d.device, help="auto (CUDA when present) | cuda | cpu")
    p.add_argument("--epochs", type=float, default=d.epochs, help="passes over the training split")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke runs)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="stop after this many seconds; the learning-rate schedule fits the time")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help="anchor images per step (under torchrun: in all, split over the ranks)")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (AdamW)")
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule,
                   help="the learning rate after the warm-up: cosine (decays to 0 by the end of the run) "
                        "or constant (the peak rate throughout)")
    p.add_argument("--warmup", type=float, default=d.warmup,
                   help="fraction of the run spent warming the learning rate up linearly (0: none)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--loss", choices=LOSSES, default=d.loss,
                   help="bce: the blog's 2-logit head; contrastive or triplet: margin losses on distances; "
                        "supcon: softmax over every pair's cosine similarity (normalises the descriptors)")
    p.add_argument("--margin", type=float, default=d.margin, help="margin for contrastive/triplet")
    p.add_argument("--temperature", type=float, default=d.temperature,
                   help="supcon's softmax temperature over cosine similarities")
    p.add_argument("--mining", choices=MINING, default=d.mining,
                   help="partners inside the batch: random (the blog's), hard (farthest same digit, "
                        "closest other digit) or semihard (FaceNet)")
    p.add_argument("--per-class", type=int, default=None, metavar="K",
                   help="class-balanced batches: batch-size/K classes with K images each (default: "
                        "a slice of the shuffled training set); for data with many classes, such as "
                        "Omniglot's characters, where a random batch holds few same-class pairs")
    p.add_argument("--keep-best", action="store_true",
                   help="Omniglot with held-out alphabets: end with the weights of the progress line whose "
                        "val 1-shot was best (early stopping; --eval-every sets how often it is measured)")
    p.add_argument("--digit-classes", type=int, default=d.digit_classes, metavar="N",
                   help="--data mnist+omniglot with --per-class: N of each batch's classes are (seen) digits, "
                        "the rest characters (default 0: drawn alike, so with hundreds of characters a batch "
                        "holds less than one digit class on average)")
    p.add_argument("--threshold-on", choices=THRESHOLDS, default=d.threshold_on,
                   help="where the checkpoint's threshold and calibration come from: val (the validation split: "
                        "seen digits, or the held-out alphabets for Omniglot alone) or held-out (pairs of the "
                        "held-out alphabets' validation episodes: classes never trained on, like unseen digits)")
    p.add_argument("--no-augment", dest="augment", action="store_false", help="no random affine jitter")
    aug = p.add_argument_group("the jitter's ranges (half-widths of uniform draws, each image its own; "
                               "siamese.augment.distort)")
    aug.add_argument("--aug-degrees", type=float, default=d.aug_degrees, help="rotation (default %(default)s)")
    aug.add_argument("--aug-scale", type=float, default=d.aug_scale, help="overall scale 1 +- this (default %(default)s)")
    aug.add_argument("--aug-stretch", type=float, default=d.aug_stretch,
                     help="x scaled by a further 1 +- this and y by its inverse (default %(default)s)")
    aug.add_argument("--aug-shear", type=float, default=d.aug_shear,
                     help="shear: x moves by up to this times y (Koch et al. 2015: 0.3; default %(default)s)")
    aug.add_argument("--aug-shift", type=float, default=d.aug_shift, help="shift in pixels (default %(default)s)")
    aug.add_argument("--aug-stroke", type=float, default=d.aug_stroke,
                     help="stroke width: up to this share of the way to the strokes' 3x3 dilation or erosion "
                          "(default %(default)s)")
    m = ModelConfig()
    arch = p.add_argument_group("architecture (default: the blog's network; ignored with --init, "
                                "which keeps the checkpoint's)")
    arch.add_argument("--embedding-dim", type=int, default=m.embedding_dim, help="descriptor size")
    arch.add_argument("--normalize", action="store_true",
                      help="L2-normalise the descriptors (distances then lie in [0, 2])")
    arch.add_argument("--batchnorm", action="store_true", help="BatchNorm after each convolution")
    arch.add_argument("--no-final-relu", dest="final_relu", action="store_false",
                      help="no ReLU after the last linear layer (descriptors may be negative)")
    p.add_argument("--amp", choices=("auto", "on", "off"), default=d.amp,
                   help="bfloat16 autocast; auto: on CUDA, and on a CPU where a short measurement finds it faster")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: what the measurement at start finds fastest)")
    p.add_argument("--eval-every", type=float, default=d.eval_every, help="seconds between progress lines")
    p.add_argument("--eval-size", type=int, default=d.eval_size, help="test images in the progress probe")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--exclude-digits", default="", metavar="DIGITS",
                   help="train without these digits, e.g. 7,8,9: they leave the training and "
                        "validation splits (the threshold is chosen on the seen digits), and the "
                        "progress lines and final evaluation score seen and unseen digits apart")
    p.add_argument("--init", default=None, help="start from this checkpoint's weights")
    p.add_argument("--no-eval", action="store_true",
                   help="skip the full test evaluation at the end (threshold is still chosen)")
    p.add_argument("--out", default=None, help="where to write the checkpoint (.pt)")
    pre, _ = p.parse_known_args(argv)
    if pre.preset:  # the preset's fields become the defaults; flags on the line still win
        p.set_defaults(**PRESETS[pre.preset]["model"], **PRESETS[pre.preset]["train"])
    a = p.parse_args(argv)
    try:
        exclude = parse_digits(a.exclude_digits)
    except ValueError as e:
        p.error(f"--exclude-digits: {e}")
    try:
        held = None if a.val_alphabets is None else parse_alphabets(a.val_alphabets)
    except ValueError as e:
        p.error(f"--val-alphabets: {e}")
    try:
        cfg = TrainConfig(
            data_dir=a.data_dir, device=a.device, epochs=a.epochs, max_steps=a.max_steps,
            max_seconds=a.max_seconds, batch_size=a.batch_size, lr=a.lr, weight_decay=a.weight_decay,
            schedule=a.schedule, warmup=a.warmup,
            loss=a.loss, margin=a.margin, augment=a.augment, amp=a.amp, compile=a.compile,
            aug_degrees=a.aug_degrees, aug_scale=a.aug_scale, aug_stretch=a.aug_stretch, aug_shear=a.aug_shear,
            aug_shift=a.aug_shift, aug_stroke=a.aug_stroke,
            threads=a.threads, eval_every=a.eval_every, eval_size=a.eval_size, seed=a.seed, out=a.out,
            exclude_digits=exclude, mining=a.mining, temperature=a.temperature,
            data=a.data, rotations=a.rotations, val_alphabets=held, per_class=a.per_class, keep_best=a.keep_best,
            digit_classes=a.digit_classes, threshold_on=a.threshold_on,
        )
    except ValueError as e:  # a setting that does not fit the data, e.g. --rotations with MNIST
        p.error(str(e))
    return cfg, a


def model_config_from_args(args: argparse.Namespace) -> ModelConfig:
    """The architecture flags as a ModelConfig (its metric is set by the trainer from the loss)."""
    return ModelConfig(embedding_dim=args.embedding_dim, normalize=args.normalize,
                       batchnorm=args.batchnorm, final_relu=args.final_relu)


def set_threads(threads: int | None) -> None:
    """torch's CPU threads for this thread and those it starts (None: leave torch's default)."""
    if threads:
        torch.set_num_threads(threads)


def train_from_args(cfg: TrainConfig, args: argparse.Namespace) -> Trainer | None:
    """The CLI's run once any process group is joined: train, then (rank 0 alone) choose the
    threshold, evaluate, print and save. Returns the trainer on every rank, None when it
    cannot be built (the error is printed)."""
    rank, world_size = distributed.world()
    say = print if rank == 0 else (lambda *a, **k: None)  # one rank prints for all
    model_config, init_state = model_config_from_args(args), None
    if args.init:
        _, ckpt = load_checkpoint(args.init)
        model_config, init_state = ModelConfig.from_dict(ckpt["model_config"]), ckpt["state_dict"]
    numerics = ""
    if cfg.device != "cuda" and not torch.cuda.is_available() and world_size == 1 and (
            cfg.amp == "auto" or cfg.threads is None):
        cal = calibrate()  # measured here, once: bf16 or fp32, and how many threads
        cfg = dataclasses.replace(cfg, threads=cfg.threads or cal.threads)
        numerics = f" | calibrated: {cal.describe()}"
    set_threads(cfg.threads)
    t0 = time.perf_counter()
    try:
        trainer = Trainer(cfg, model_config=model_config, init_state=init_state)
    except (ValueError, DataUnavailableError) as e:  # an unavailable device or data set, say
        print(f"error: {e}", file=sys.stderr)
        return None
    ranks = ""
    if world_size > 1:
        sizes = distributed.shard_sizes(cfg.batch_size, world_size)
        each = str(sizes[0]) if sizes[0] == sizes[-1] else f"{sizes[-1]}-{sizes[0]}"
        ranks = (f" | {world_size} ranks ({torch.distributed.get_backend()}), "
                 f"global batch {cfg.batch_size}, {each} per rank")
    unseen = f" (without digits {','.join(map(str, cfg.exclude_digits))})" if cfg.exclude_digits else ""
    say(f"device {trainer.device} | amp {'bf16' if trainer.amp else 'off'} | threads {torch.get_num_threads()} | "
        f"loss {cfg.loss} | {len(trainer.train_labels):,} training images{unseen} | "
        f"{trainer.total_steps} steps max{ranks}{numerics}", flush=True)
    if cfg.data != "mnist":
        episodes = trainer.episodes
        val = (f"validation: {len(episodes.references)} {episodes.way}-way one-shot episodes"
               if episodes is not None else "no validation score")
        say(f"data: {describe_data(cfg.to_dict())} | {trainer.num_classes:,} classes | {val}", flush=True)
    last = None
    try:
        for ev in trainer.run():
            say(ev.line(), flush=True)
            last = ev
    except KeyboardInterrupt:  # Ctrl-C keeps what was learned so far
        say("interrupted: keeping the model trained so far", flush=True)
    if rank != 0:
        return trainer
    result = trainer.finalize(full_eval=not args.no_eval)
    shown = {k: round(v, 4) for k, v in result.items() if isinstance(v, float)}
    print("final:", shown, flush=True)
    if "splits" in result:
        print_splits(result["splits"])
    if last is not None:
        print(f"trained {trainer.step} steps in {last.elapsed:.1f} s "
              f"({2 * cfg.batch_size * trainer.step / max(last.elapsed, 1e-9):.0f} pairs/s); "
              f"total wall time {time.perf_counter() - t0:.1f} s", flush=True)
    if cfg.out:
        print(f"saved {trainer.save(cfg.out, result)}", flush=True)
    return trainer


def main(argv=None) -> int:
    cfg, args = parse_args(argv)
    try:
        distributed.local_device(cfg.device)  # an unavailable device fails here, before any rendezvous
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with distributed.process_group(cfg.device):  # joined under torchrun; nothing otherwise
        return 0 if train_from_args(cfg, args) is not None else 2


if __name__ == "__main__":
    sys.exit(main())
