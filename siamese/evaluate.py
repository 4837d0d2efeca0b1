"""Honest evaluation: fixed test pairs, a threshold chosen on validation data only.

    python -m siamese.evaluate checkpoints/siamese_mnist.pt --data-dir data --json
    python -m siamese.evaluate runs/symbols.pt --omniglot-runs    # one-shot on symbols it never saw

Metrics
- pair_accuracy: the 20,000 fixed test pairs (each test image once with a same-class and once
  with a different-class test image, seed 0), 'same' when distance <= threshold.
- roc_auc: on the same pairs.
- threshold: chosen to maximise accuracy on fixed pairs of the validation split (held out of
  training), never on test.
- one_shot_accuracy: 10-way; each test image against one random test reference per class
  (seed 0), predicted class = nearest reference.
- knn_accuracy: 1-nearest neighbour on embeddings, the 60,000 training images as gallery.

For a model trained without some digits (`TrainConfig.exclude_digits`, or `--exclude-digits`
here), the threshold is chosen on validation pairs of the seen digits only, and `splits` adds
per-split figures on fixed test pairs (`pairs.split_pairs`, seed 0): "seen" (both digits
seen), "unseen" (both digits among the excluded), "mixed" (an unseen digit against a seen one,
with unseen same-digit pairs for balance). Each has pair_accuracy, roc_auc (None where a split
lacks same or different pairs), negative_accuracy (different pairs called different) and
one_shot_accuracy: N-way among that split's digits (seen: the seen digits; unseen: the unseen
digits only; mixed: unseen queries against one reference of each of the ten digits).

`--omniglot-runs` scores one-shot classification instead (`one_shot_report`): Omniglot's 20
runs (20-way within one alphabet, 20 queries each: 400 trials, on alphabets no background set
holds) and MNIST 10-way one-shot averaged over seeded reference draws, beside the published
figures (`siamese.published`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from . import metrics as M
from . import published
from .config import describe_data, parse_digits
from .data import MNIST, NUM_CLASSES, DataUnavailableError, Split, load_mnist
from .device import autocast, pick_device
from .model import SiameseNet, same_probability_from_logits
from .omniglot import load_runs
from .oneshot import Episodes, one_shot_accuracy, runs_accuracy
from .pairs import SPLITS, fixed_pairs, split_pairs


@torch.no_grad()
def embed_images(model: SiameseNet, images: torch.Tensor, batch_size: int | None = None,
                 amp: bool = False) -> torch.Tensor:
    """(N, 28, 28) uint8 or (N, [1,] 28, 28) float -> (N, D) float32 embeddings.

    batch_size: None picks 256 on a CPU (its activations stay in cache: 5,000 images in 1.33 s
    against 1.65 s at 2,048, channels_last, 2-vCPU EPYC) and 2,048 on a GPU.

    Evaluation helper in the nanoGPT way: eval mode inside, the caller's mode restored after.
    """
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    batch_size = batch_size or (256 if dev.type == "cpu" else 2048)
    out = []
    try:
        for i in range(0, images.shape[0], batch_size):
            x = images[i : i + batch_size].to(dev)
            with autocast(dev, amp):
                out.append(model.embed(x).float())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, model.config.embedding_dim)


@torch.no_grad()
def pair_distances(model: SiameseNet, emb: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distances of the pairs (a[i], b[i]) of rows of `emb` under the model's metric."""
    return model.distance(emb[a], emb[b])


class ProgressProbe:
    """The fast check run during training: a fixed subset of test images (and of validation
    images to set the threshold), each in one same and one different pair within its subset.

    Calling it returns test pair accuracy and the test-subset embeddings (for live maps). With
    `unseen` digits (a model trained without them) it also returns the pair accuracy on the
    subset's seen-only and unseen-only pairs (`pairs.split_pairs`): the same embeddings, a few
    thousand more distances, so it costs next to nothing more. Data without a test split
    (`symbols.Symbols`) gives the threshold only; `episodes` (held-out Omniglot alphabets) add
    `val_one_shot_accuracy`, their mean accuracy.
    """

    def __init__(self, data: MNIST, size: int = 1000, seed: int = 0, unseen=(), episodes: Episodes | None = None):
        g = torch.Generator().manual_seed(seed)

        def pick(split):  # the whole split keeps its order: then these are evaluate()'s pairs
            if size >= len(split):
                return split
            return split.subset(torch.randperm(len(split), generator=g)[:size])

        self.test = None if data.test is None else pick(data.test)
        self.val = pick(data.val)
        self.test_pairs = None if self.test is None else fixed_pairs(self.test.labels, seed)
        self.val_pairs = fixed_pairs(self.val.labels, seed)
        self.split_pairs = split_pairs(self.test.labels, unseen, seed) if len(unseen) else None
        self.episodes = episodes

    def __call__(self, model: SiameseNet, amp: bool = False) -> dict:
        emb_val = embed_images(model, self.val.images, amp=amp)
        d_val = pair_distances(model, emb_val, *self.val_pairs[:2])
        t = M.best_threshold(d_val, self.val_pairs[2])
        out = {"threshold": t}
        if self.episodes is not None:  # the validation images are often the episodes' own
            same = self.episodes.images is self.val.images
            emb = emb_val if same else embed_images(model, self.episodes.images, amp=amp)
            out["val_one_shot_accuracy"] = float(self.episodes.accuracy(model.distance, emb).mean())
        if self.test is None:
            return out
        emb_test = embed_images(model, self.test.images, amp=amp)
        d_test = pair_distances(model, emb_test, *self.test_pairs[:2])
        out.update({
            "test_pair_accuracy": M.accuracy_at(d_test, self.test_pairs[2], t),
            "embeddings": emb_test.cpu(),  # (size, D)
            "labels": self.test.labels.cpu(),  # (size,)
        })
        if self.split_pairs is not None:
            for split in ("seen", "unseen"):
                a, b, same = self.split_pairs[split]
                acc = M.accuracy_at(pair_distances(model, emb_test, a, b), same, t) if len(same) else None
                out[f"{split}_pair_accuracy"] = acc
        return out


def score_episodes(model: SiameseNet, episodes: Episodes, amp: bool = False) -> dict:
    """The validation one-shot score of `episodes` (held-out Omniglot alphabets): mean accuracy,
    its way and the number of episodes."""
    acc = episodes.accuracy(model.distance, embed_images(model, episodes.images, amp=amp))
    return {"val_one_shot_accuracy": float(acc.mean()), "val_one_shot_way": episodes.way,
            "val_one_shot_episodes": len(acc)}


def choose_threshold(model: SiameseNet, val: Split, seed: int = 0, amp: bool = False) -> dict:
    """Threshold and probability calibration from fixed pairs of the validation split (two
    pairs per image)."""
    emb = embed_images(model, val.images, amp=amp)
    a, b, same = fixed_pairs(val.labels, seed)
    d = pair_distances(model, emb, a, b)
    t = M.best_threshold(d, same)
    slope, intercept = M.fit_logistic(d, same)
    return {
        "threshold": t,
        "calibration": {"slope": slope, "intercept": intercept},
        "val_pair_accuracy": M.accuracy_at(d, same, t),
    }


def evaluate(model: SiameseNet, data: MNIST, *, threshold: float | None = None, knn: bool = True,
             test_images: torch.Tensor | None = None, seed: int = 0, amp: bool = False,
             unseen=()) -> dict:
    """All the metrics in the module docstring. `test_images` replaces the test images (e.g.
    passed through `to_mnist`) while the labels and pairs stay the same. unseen: digits the
    model never saw; the threshold is then chosen without them and `splits` is added
    (`split_metrics`); the overall figures stay those of all 20,000 test pairs."""
    t0 = time.perf_counter()
    chosen = choose_threshold(model, data.val.without(unseen), seed, amp)
    if threshold is None:
        threshold = chosen["threshold"]
    images = data.test.images if test_images is None else test_images
    emb = embed_images(model, images, amp=amp)  # (10000, D)
    labels = data.test.labels.to(emb.device)
    a, b, same = fixed_pairs(labels, seed)
    d = pair_distances(model, emb, a, b)
    conf = M.confusion_at(d, same, threshold)
    out = {
        "pair_accuracy": conf["accuracy"],
        "precision": conf["precision"],
        "recall": conf["recall"],
        "roc_auc": M.roc_auc(d, same),
        "threshold": threshold,
        "val_pair_accuracy": chosen["val_pair_accuracy"],
        "num_test_pairs": int(same.numel()),
    }
    with torch.no_grad():
        dev = next(model.parameters()).device
        logits = model.pair_logits(emb[a].to(dev), emb[b].to(dev))
        out["head_pair_accuracy"] = float(((same_probability_from_logits(logits) >= 0.5).float().cpu()
                                           == same.cpu()).float().mean())
    out["one_shot_accuracy"] = one_shot_accuracy(model.distance, emb, labels, seed)
    if len(unseen):
        out["splits"] = split_metrics(model, emb, labels, unseen, threshold, seed)
    if knn:
        gallery = embed_images(model, data.full_train.images, amp=amp)
        w = model.metric_weights()
        out["knn_accuracy"] = M.knn_accuracy(emb, labels, gallery, data.full_train.labels.to(emb.device),
                                             None if w is None else w.detach())
    out["calibration"] = chosen["calibration"]
    out["eval_seconds"] = round(time.perf_counter() - t0, 2)
    return out


def split_metrics(model: SiameseNet, emb: torch.Tensor, labels: torch.Tensor, unseen, threshold: float,
                  seed: int = 0) -> dict:
    """The per-split figures of the module docstring, from test descriptors `emb` (N, D) and
    their `labels` (N,), at `threshold` (chosen on seen digits' validation pairs)."""
    unseen = sorted(int(d) for d in unseen)
    seen = [d for d in range(NUM_CLASSES) if d not in unseen]
    labels = labels.to(emb.device)
    is_unseen = torch.isin(labels, torch.tensor(unseen, device=emb.device))
    out = {"seen_digits": seen, "unseen_digits": unseen, "threshold": threshold, "seed": seed}
    present = set(labels.unique().tolist())  # one-shot candidates: the digits there are (all, on MNIST)
    pairs = split_pairs(labels, unseen, seed)
    for split in SPLITS:
        a, b, same = pairs[split]
        d = pair_distances(model, emb, a, b)
        conf = M.confusion_at(d, same, threshold)
        both = 0 < int(same.sum()) < len(same)  # an AUC needs same and different pairs
        if split == "mixed":  # unseen queries, a reference of every digit
            digits = sorted(present)
            shot = (emb, labels, digits, is_unseen)
        else:
            keep = is_unseen if split == "unseen" else ~is_unseen
            digits = [d for d in (unseen if split == "unseen" else seen) if d in present]
            shot = (emb[keep], labels[keep], digits, None)
        way = len(digits)
        out[split] = {
            "pair_accuracy": conf["accuracy"] if len(same) else None,
            "roc_auc": M.roc_auc(d, same) if both else None,
            "negative_accuracy": conf["tn"] / (conf["tn"] + conf["fp"]) if conf["tn"] + conf["fp"] else None,
            "one_shot_accuracy": (one_shot_accuracy(model.distance, shot[0], shot[1], seed, classes=shot[2],
                                                    queries=shot[3]) if way > 1 and len(shot[1]) else None),
            "one_shot_way": way,
            "num_pairs": int(len(same)),
        }
    return out


def evaluate_splits(model: SiameseNet, data: MNIST, unseen, *, threshold: float | None = None,
                    seed: int = 0, amp: bool = False) -> dict:
    """Per-split metrics (module docstring) on the test set for a model that never saw the
    digits `unseen`. The threshold, unless given, is chosen on `data.val` without them."""
    if threshold is None:
        threshold = choose_threshold(model, data.val.without(unseen), seed, amp)["threshold"]
    emb = embed_images(model, data.test.images, amp=amp)
    return split_metrics(model, emb, data.test.labels, unseen, threshold, seed)


def print_splits(splits: dict) -> None:
    """The per-split figures as a small table."""
    print(f"seen digits {splits['seen_digits']}, unseen digits {splits['unseen_digits']} "
          f"(threshold {splits['threshold']:.4f}, chosen on seen digits' validation pairs)")
    cols = ("pair_accuracy", "roc_auc", "negative_accuracy", "one_shot_accuracy", "one_shot_way", "num_pairs")
    print(f"{'split':>8} " + " ".join(f"{c:>17}" for c in cols))
    for split in SPLITS:
        row = splits[split]
        cells = ["-" if row[c] is None else f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c])
                 for c in cols]
        print(f"{split:>8} " + " ".join(f"{c:>17}" for c in cells))


def one_shot_report(model: SiameseNet, runs, mnist_test: Split | None = None, draws: int = 5,
                    amp: bool = False) -> dict:
    """The one-shot tests of `--omniglot-runs`. "omniglot_runs": Omniglot's 20 runs
    (`omniglot.load_runs`), accuracy over all their trials with the per-run spread;
    "mnist_one_shot" (given the MNIST test split): 10-way one-shot on it, the mean over `draws`
    seeded reference draws (`one_shot_accuracy`, seeds 0..draws-1)."""
    per_run = runs_accuracy(lambda x: embed_images(model, x, amp=amp), model.distance, runs).cpu()  # (R,)
    queries = sum(len(r.answers) for r in runs)
    out = {"omniglot_runs": {
        "accuracy": float(sum(float(a) * len(r.answers) for a, r in zip(per_run, runs)) / queries),
        "trials": queries, "runs": len(runs), "way": len(runs[0].references),
        "per_run": [round(float(a), 4) for a in per_run], "run_std": float(per_run.std()) if len(runs) > 1 else 0.0,
        "run_min": float(per_run.min()), "run_max": float(per_run.max())}}
    if mnist_test is not None:
        emb = embed_images(model, mnist_test.images, amp=amp)
        accs = torch.tensor([one_shot_accuracy(model.distance, emb, mnist_test.labels, seed) for seed in range(draws)])
        out["mnist_one_shot"] = {
            "accuracy": float(accs.mean()), "way": NUM_CLASSES, "queries": len(mnist_test), "draws": draws,
            "per_draw": [round(float(a), 4) for a in accs], "draw_std": float(accs.std()) if draws > 1 else 0.0}
    return out


def print_one_shot_report(report: dict, trained_on: str) -> None:
    """`one_shot_report` beside the published figures (siamese.published)."""
    r = report["omniglot_runs"]
    print(f"trained on: {trained_on}")
    print(f"Omniglot one-shot runs: {r['accuracy']:.4f} ({r['runs']} runs x {r['trials'] // r['runs']} "
          f"queries, {r['way']}-way within an alphabet; per run {r['run_min']:.2f}-{r['run_max']:.2f}, "
          f"std {r['run_std']:.3f})")
    print("\n".join(published.table(published.OMNIGLOT_RUNS, r["accuracy"])))
    if "mnist_one_shot" in report:
        m = report["mnist_one_shot"]
        print(f"MNIST {m['way']}-way one-shot: {m['accuracy']:.4f} ({m['queries']:,} test queries, mean of "
              f"{m['draws']} reference draws, std {m['draw_std']:.4f}); published, for models that never saw a digit:")
        print("\n".join(published.table(published.MNIST_ONE_SHOT, m["accuracy"])))


def main(argv=None) -> int:
    from .checkpoint import excluded_digits, load_checkpoint

    p = argparse.ArgumentParser(
        prog="python -m siamese.evaluate",
        description="Score a checkpoint on the fixed MNIST test pairs (threshold from validation), "
                    "or (--omniglot-runs) on one-shot classification of symbols and digits. "
                    "For a model trained without some digits (--exclude-digits at training), the "
                    "threshold is chosen on the seen digits and the figures are also given for "
                    "seen-only, unseen-only and mixed pairs.",
    )
    p.add_argument("checkpoint", help="path to a .pt checkpoint")
    p.add_argument("--data-dir", default=None, help="MNIST root, Omniglot's archives in its omniglot/ folder "
                   "(default: $SIAMESE_DATA_DIR or ./data)")
    p.add_argument("--device", default="auto", help="auto | cuda | cpu")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.add_argument("--no-knn", action="store_true", help="skip the 60,000-image nearest-neighbour metric")
    p.add_argument("--use-saved-threshold", action="store_true",
                   help="score with the checkpoint's threshold instead of re-choosing it on validation")
    p.add_argument("--omniglot-runs", action="store_true",
                   help="instead: one-shot classification on Omniglot's 20 runs (400 trials of 20-way "
                        "within-alphabet one-shot; all_runs.zip in DATA_DIR/omniglot, downloaded if "
                        "missing) and MNIST 10-way one-shot, beside published figures")
    p.add_argument("--mnist-draws", type=int, default=5, metavar="N",
                   help="with --omniglot-runs: MNIST one-shot averaged over N seeded reference draws "
                        "(0: skip MNIST)")
    p.add_argument("--exclude-digits", default=None, metavar="DIGITS",
                   help="score as if these digits (e.g. 7,8,9; 'none' for none) were never seen, "
                        "whatever the model was trained on (default: the checkpoint's own)")
    args = p.parse_args(argv)

    try:
        device = pick_device(args.device)
        unseen = None if args.exclude_digits is None else parse_digits(args.exclude_digits)
    except ValueError as e:
        p.error(str(e))
    model, ckpt = load_checkpoint(args.checkpoint, device)
    if args.omniglot_runs:
        return _one_shot_main(model, ckpt, args, device)
    if unseen is None:
        unseen = excluded_digits(ckpt)
    val_size = int(ckpt.get("train_config", {}).get("val_size", 5000))
    data = load_mnist(args.data_dir, device, val_size=val_size)
    res = evaluate(model, data, knn=not args.no_knn, unseen=unseen,
                   threshold=ckpt.get("threshold") if args.use_saved_threshold else None)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for k, v in res.items():
            if k != "splits":
                print(f"{k:>20}: {v:.4f}" if isinstance(v, float) else f"{k:>20}: {v}")
        if "splits" in res:
            print_splits(res["splits"])
    return 0


def _one_shot_main(model: SiameseNet, ckpt: dict, args, device) -> int:
    """--omniglot-runs: the one-shot report, as text or JSON."""
    try:
        runs = load_runs(args.data_dir)
        mnist_test = load_mnist(args.data_dir, device).test if args.mnist_draws > 0 else None
    except DataUnavailableError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = one_shot_report(model, runs, mnist_test, draws=args.mnist_draws)
    trained_on = describe_data(ckpt.get("train_config") or {})
    if args.json:
        report.update(trained_on=trained_on, published={"omniglot_runs": published.as_dicts(published.OMNIGLOT_RUNS),
                                                        "mnist_one_shot": published.as_dicts(published.MNIST_ONE_SHOT)})
        print(json.dumps(report, indent=2))
    else:
        print_one_shot_report(report, trained_on)
    return 0


if __name__ == "__main__":
    sys.exit(main())
