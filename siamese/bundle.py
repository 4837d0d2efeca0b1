"""A model for the browser: three graphs every model shares, and one file of weights per model.

The page compares digits in the student's browser with ONNX Runtime Web, on the graphs in
`siamese/graphs/` (written by `python -m siamese.export --graphs`):

- `preprocess.onnx`: uint8 RGBA (H, W, 4) -> the 28x28 image and a status
  (`siamese.preprocess.mnist_from_rgba`; Python's `to_mnist` runs this very file);
- `tower.onnx`: (N, 1, 28, 28) -> (N, D) descriptors, for any model of the blog's architecture
  (ARCHITECTURE): its weights are external data, the file `weights.bin`, in a fixed layout
  (`layout`: float16; BatchNorm folded into the convolutions), and two flags (`final_relu`,
  `unit`) are inputs;
- `pair.onnx`: two descriptor batches and a model's pair parameters -> distance,
  same_probability and its log-odds, as `Comparator` computes them (`pair_scores`).

So a model reaches the browser as its `weights.bin` (4.4 MB) and a few numbers
(`browser_meta`), both written here with numpy alone, in milliseconds, whenever a model appears
(a retrain, a class). A model of another architecture stays on the server.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from .compare import Comparator
from .config import ModelConfig

GRAPHS = Path(__file__).resolve().parent / "graphs"
PREPROCESS, TOWER, PAIR = "preprocess.onnx", "tower.onnx", "pair.onnx"
WEIGHTS = "weights.bin"  # the name tower.onnx's external data refers to
ARCHITECTURE = {"channels": (64, 128, 256), "embedding_dim": 512}  # what tower.onnx's weights fit
ALIGN = 64  # each tensor starts on a 64-byte boundary of weights.bin
DTYPE = np.float16  # verdicts agree with PyTorch's fp32 on >= 99.5% of pairs (tests/test_bundle.py)


def supported(config: ModelConfig) -> bool:
    """Whether tower.onnx fits a model of this config (BatchNorm or not, either flag, either metric)."""
    return tuple(config.channels) == ARCHITECTURE["channels"] and config.embedding_dim == ARCHITECTURE["embedding_dim"]


def shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The tower's weights by name, in weights.bin's order."""
    c1, c2, c3 = config.channels
    return {"conv1_weight": (c1, 1, 7, 7), "conv1_bias": (c1,), "conv2_weight": (c2, c1, 5, 5), "conv2_bias": (c2,),
            "conv3_weight": (c3, c2, 5, 5), "conv3_bias": (c3,),
            "linear_weight": (config.embedding_dim, c3 * 3 * 3), "linear_bias": (config.embedding_dim,)}


def layout(config: ModelConfig) -> list[tuple[str, tuple[int, ...], int, int]]:
    """(name, shape, byte offset, byte length) of each tensor in weights.bin."""
    out, offset = [], 0
    for name, shape in shapes(config).items():
        nbytes = int(np.prod(shape)) * np.dtype(DTYPE).itemsize
        out.append((name, shape, offset, nbytes))
        offset += nbytes + (-nbytes) % ALIGN
    return out


def tower_parameters(model) -> dict[str, np.ndarray]:
    """float32 weights of the tower by `shapes` name, BatchNorm (eval mode) folded into the
    convolution before it: w * g / sqrt(var + eps), b * g / sqrt(var + eps) + beta - mean * g / sqrt(...)."""
    layers = [m for m in model.tower if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d))]
    units, i = [], 0
    while i < len(layers):  # (conv or linear, the BatchNorm after it or None)
        bn = layers[i + 1] if i + 1 < len(layers) and isinstance(layers[i + 1], torch.nn.BatchNorm2d) else None
        units.append((layers[i], bn))
        i += 2 if bn is not None else 1
    out = {}
    for (layer, bn), prefix in zip(units, ("conv1", "conv2", "conv3", "linear")):
        w = layer.weight.detach().float().cpu().contiguous()
        b = layer.bias.detach().float().cpu() if layer.bias is not None else torch.zeros(w.shape[0])
        if bn is not None:
            g = bn.weight.detach().float().cpu() / torch.sqrt(bn.running_var.float().cpu() + bn.eps)
            w = w * g.view(-1, *([1] * (w.dim() - 1)))
            b = b * g + bn.bias.detach().float().cpu() - bn.running_mean.float().cpu() * g
        out[f"{prefix}_weight"], out[f"{prefix}_bias"] = w.numpy(), b.contiguous().numpy()
    return out


def weights_blob(model) -> bytes:
    """The model's weights.bin: its tensors in `layout` as float16, each 64-byte aligned."""
    params, parts = tower_parameters(model), []
    for name, shape, offset, nbytes in layout(model.config):
        data = np.ascontiguousarray(params[name].astype(DTYPE)).tobytes()
        assert params[name].shape == shape and len(data) == nbytes, name
        parts.append(data + b"\0" * ((-nbytes) % ALIGN))
    return b"".join(parts)


def pair_parameters(cmp: Comparator) -> dict:
    """pair.onnx's per-model inputs: d = sum_k weights_k (a_k - b_k)^2, its square root when
    euclidean; same_probability = sigmoid(slope * d + intercept). The head's softmax is that
    with slope -1 and intercept b[same] - b[different] (siamese.model.SiameseNet.metric_weights)."""
    model = cmp.model
    v = model.metric_weights()
    if v is None:
        slope, intercept = cmp.calibration
        return {"weights": [1.0] * model.config.embedding_dim, "euclidean": 1.0, "slope": float(slope),
                "intercept": float(intercept)}
    bias = model.head.bias.detach().float()
    return {"weights": [float(x) for x in v.detach().cpu()], "euclidean": 0.0, "slope": -1.0,
            "intercept": float(bias[1] - bias[0])}


def pair_scores(a: torch.Tensor, b: torch.Tensor, weights: torch.Tensor, euclidean: torch.Tensor,
                slope: torch.Tensor, intercept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, D), (N, D) and pair_parameters -> (distance, same_probability, same_log_odds), each
    (N,): what pair.onnx computes; equal to Comparator.distance, .same_probability and
    .same_log_odds (tests). The log-odds rank one-shot matches (siamese.oneshot.match_confidence)."""
    sq = (a - b).pow(2) @ weights  # (N,)
    d = torch.where(euclidean > 0, torch.sqrt(torch.clamp(sq, min=0.0)), sq)
    log_odds = slope * d + intercept
    return d, torch.sigmoid(log_odds), log_odds


def browser_meta(cmp: Comparator) -> dict:
    """What the page's script needs beside weights.bin to compare with this model."""
    cfg = cmp.model.config
    return {"final_relu": float(cfg.final_relu), "unit": float(cfg.normalize), "threshold": cmp.threshold,
            "metric": cfg.metric, "pair": pair_parameters(cmp)}


def digest(data: bytes) -> str:
    """A short content hash: file names that change when the content does (browsers cache them)."""
    return hashlib.sha256(data).hexdigest()[:16]
