"""Inference for the page and for scripts: load a checkpoint once, compare digit images.

    cmp = Comparator.from_checkpoint("checkpoints/siamese_mnist.pt")
    r = cmp.compare("a.png", "b.png")
    r.distance, r.same_probability, r.same, r.image_a  # image_a: the (28, 28) the network saw
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from .checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint
from .device import use_amp
from .model import SiameseNet, same_probability_from_logits
from .preprocess import to_float, to_mnist


class EmbeddingStopped(RuntimeError):
    """`Comparator.embed` was told to stop before the batch was done."""


@dataclass
class Comparison:
    distance: float
    same_probability: float
    same: bool  # distance <= threshold
    threshold: float
    image_a: np.ndarray  # (28, 28) float32 in [0, 1], white on black: what the network saw
    image_b: np.ndarray

    def to_dict(self) -> dict:
        return {"distance": self.distance, "same_probability": self.same_probability,
                "same": self.same, "threshold": self.threshold}


def same_probability(model: SiameseNet, calibration: tuple[float, float], emb_a: torch.Tensor,
                     emb_b: torch.Tensor) -> torch.Tensor:
    """(N, D), (N, D) -> (N,): the head's softmax for a head-metric model, else the logistic fit
    sigmoid(slope * d + intercept) of its Euclidean distance (calibration = (slope, intercept)).
    Plain tensor ops, so the ONNX pair scorer (siamese.export) is traced from this too."""
    if model.config.metric == "head":
        return same_probability_from_logits(model.pair_logits(emb_a, emb_b))
    return torch.sigmoid(same_log_odds(model, calibration, emb_a, emb_b))


def same_log_odds(model: SiameseNet, calibration: tuple[float, float], emb_a: torch.Tensor,
                  emb_b: torch.Tensor) -> torch.Tensor:
    """(N, D), (N, D) -> (N,): log(p / (1 - p)) of `same_probability`, computed before the
    sigmoid saturates (p rounds to 1.0 in float32 from log-odds 17 on): the head's 'same'
    minus 'different' logit, or slope * d + intercept."""
    if model.config.metric == "head":
        logits = model.pair_logits(emb_a, emb_b).float()
        return logits[..., 1] - logits[..., 0]
    slope, intercept = calibration
    return slope * model.distance(emb_a, emb_b) + intercept


class Comparator:
    """A trained siamese network ready to compare digits.

    The decision is `distance <= threshold`, the threshold chosen on validation pairs at
    training time. For a bce-trained model the distance is the head's weighted squared
    difference and `same_probability` the head's softmax (monotone in that distance); for
    contrastive and triplet models, which have no trained head, the distance is Euclidean and
    the probability a logistic fit of it on the same validation pairs.
    """

    def __init__(self, model: SiameseNet, checkpoint: dict | None = None, device="cpu"):
        ckpt = checkpoint or {}
        self.device = torch.device(device)
        # channels_last suits oneDNN and cuDNN convolutions alike (measured 1.4x on this CPU).
        self.model = model.to(self.device).eval().to(memory_format=torch.channels_last)
        # The checkpoint's metadata (configs, metrics, threshold, versions); the weights live in
        # self.model only: a second copy would double every model the page holds.
        self.checkpoint = {k: v for k, v in ckpt.items() if k != "state_dict"}
        if ckpt.get("threshold") is None:  # no threshold, no verdict: guessing one would mislead
            raise CheckpointError("the checkpoint has no decision threshold (train with siamese.train, "
                                  "which chooses it on validation pairs)")
        self.threshold = float(ckpt["threshold"])
        cal = ckpt.get("calibration") or {}
        self.calibration = (float(cal.get("slope", -1.0)), float(cal.get("intercept", 0.0)))
        self.metrics = dict(ckpt.get("metrics") or {})

    @classmethod
    def from_checkpoint(cls, path, device="cpu") -> "Comparator":
        model, ckpt = load_checkpoint(path, device)
        return cls(model, ckpt, device)

    @classmethod
    def from_checkpoint_dict(cls, ckpt: dict, device="cpu") -> "Comparator":
        """From an in-memory checkpoint (e.g. `Trainer.checkpoint(...)` after a retrain): the
        weights are copied into a fresh model, validated like a file."""
        return cls(model_from_checkpoint(ckpt, device), ckpt, device)

    def preprocess(self, image) -> np.ndarray:
        """Any accepted image -> (28, 28) float32 (raises ImageError / BlankImageError)."""
        return to_mnist(image)

    def _as_batch(self, images) -> torch.Tensor:
        if isinstance(images, torch.Tensor) and images.dim() in (3, 4) and images.shape[-2:] == (28, 28):
            x = images  # already MNIST-format: (N, 28, 28) or (N, 1, 28, 28)
        elif isinstance(images, np.ndarray) and images.ndim == 3 and images.shape[1:] == (28, 28):
            x = torch.from_numpy(images)
        else:
            x = torch.from_numpy(np.stack([to_mnist(im) for im in images]))
        return to_float(x).to(self.device)

    @torch.inference_mode()
    def embed(self, images, fast: bool | None = None, stop: threading.Event | None = None) -> torch.Tensor:
        """Images -> (N, D) float32 descriptors on the comparator's device.

        `images`: a list of accepted images (each goes through `to_mnist`), or a batch already
        in MNIST format ((N, 28, 28) uint8 / float in [0, 1], tensor or array).
        `fast`: bf16 autocast + channels_last (4x faster on AMX CPUs and GPUs; descriptors
        within ~1 % of fp32). Default: on for batches of 256+ where the hardware has it; single
        comparisons stay fp32, like the evaluation that chose the threshold.
        `stop`: checked between chunks of 1,024 (a fraction of a second each); once set, raises
        EmbeddingStopped (a server that is closing does not wait for a whole test set).
        """
        x = self._as_batch(images)
        if not len(x):
            return torch.zeros(0, self.model.config.embedding_dim, device=self.device)
        if fast is None:  # bf16 where it pays here (measured once per process: device.calibrate)
            fast = len(x) >= 256 and use_amp("auto", self.device)
        if fast:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=fast):
            out = []
            for i in range(0, len(x), 1024):
                if stop is not None and stop.is_set():
                    raise EmbeddingStopped(f"stopped after {i} of {len(x)} images")
                out.append(self.model.embed(x[i : i + 1024]).float())
            return torch.cat(out)

    @torch.inference_mode()
    def distance(self, emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
        """(N, D), (N, D) -> (N,) distances under the model's metric (see SiameseNet.distance)."""
        return self.model.distance(emb_a, emb_b)

    @torch.inference_mode()
    def same_probability(self, emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
        """(N, D), (N, D) -> (N,) probability that each pair shows the same digit."""
        return same_probability(self.model, self.calibration, emb_a, emb_b)

    @torch.inference_mode()
    def same_log_odds(self, emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
        """(N, D), (N, D) -> (N,) log-odds of 'same' (the logit of same_probability, unsaturated)."""
        return same_log_odds(self.model, self.calibration, emb_a, emb_b)

    def compare(self, img_a, img_b) -> Comparison:
        a, b = to_mnist(img_a), to_mnist(img_b)
        emb = self.embed(np.stack([a, b]))  # (2, D)
        d = float(self.distance(emb[:1], emb[1:])[0])
        p = float(self.same_probability(emb[:1], emb[1:])[0])
        return Comparison(distance=d, same_probability=p, same=d <= self.threshold,
                          threshold=self.threshold, image_a=a, image_b=b)
