"""ONNX export of a trained model, to run it where there is no PyTorch.

    python -m siamese.export checkpoints/siamese_mnist.pt --out runs/onnx

writes three files into the folder:

- `tower.onnx`: images (N, 1, 28, 28) float32 in [0, 1], MNIST-style (white digit on black, as
  `siamese.to_mnist` makes them) -> descriptors (N, D). Normalisation is inside the graph, as
  in `SiameseNet.embed`; N is free.
- `pair.onnx`: two descriptor batches (N, D), (N, D) -> distance (N,) and same_probability
  (N,), computed as `Comparator.distance` / `Comparator.same_probability` compute them.
- `siamese.json`: the decision threshold (same digit when distance <= threshold), the metric
  and calibration, the preprocessing a caller must do, the model config and versions.

The graphs come from torch.onnx's dynamo exporter (torch.export, then onnxscript), with their
weights inside the file. Exporting needs `onnx` and `onnxscript`; running needs only
`onnxruntime` (and numpy).
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from . import __version__
from .compare import Comparator, same_probability
from .model import SiameseNet
from .preprocess import BOX, MNIST_MEAN, MNIST_STD, SIZE

TOWER, PAIR, META = "tower.onnx", "pair.onnx", "siamese.json"

PREPROCESSING = (
    "Inputs are MNIST-style digits: 28 x 28, white (1.0) digit on black (0.0), float32 in [0, 1]. "
    "An MNIST image is already that (divide its bytes by 255). Any other image goes through "
    "siamese.to_mnist's steps: composite transparency onto white, make it grey, detect the "
    "polarity from the border so the ink ends up white, crop to the ink, scale the ink's box "
    f"so its longer side is {BOX} px (Lanczos), scale so the brightest pixel is 1, and paste it "
    f"into a {SIZE} x {SIZE} black field with its centre of mass on pixel (14, 14). "
    "Normalisation ((x - mnist_mean) / mnist_std) happens inside tower.onnx: do not apply it."
)


class Tower(nn.Module):
    """images (N, 1, 28, 28) float in [0, 1] -> (N, D) descriptors: `SiameseNet.embed`."""

    def __init__(self, model: SiameseNet):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.embed(images)


class PairScorer(nn.Module):
    """(N, D), (N, D) descriptors -> (distance (N,), same_probability (N,)), as a Comparator
    scores them: the model's metric, and the head or the calibration for the probability."""

    def __init__(self, model: SiameseNet, calibration: tuple[float, float]):
        super().__init__()
        self.model = model
        self.calibration = calibration

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.distance(a, b), same_probability(self.model, self.calibration, a, b)


def _export(module: nn.Module, args: tuple, path: Path, input_names, output_names) -> None:
    """One graph into one file (weights inside), its first axis free and named "batch"."""
    batch = torch.export.Dim("batch", min=1)
    dynamic = {name: {0: batch} for name in input_names}  # a and b: the same N
    with warnings.catch_warnings():  # "batch will not be used, since it shares ... with batch": it is
        warnings.filterwarnings("ignore", message="The axis name")
        torch.onnx.export(module, args, str(path), input_names=list(input_names),
                          output_names=list(output_names), dynamic_shapes=dynamic,
                          external_data=False, dynamo=True, verbose=False)


def metadata(cmp: Comparator, opset: int | None = None) -> dict:
    """What a runtime needs beside the two graphs (the JSON written next to them)."""
    cfg = cmp.model.config
    slope, intercept = cmp.calibration
    return {
        "files": {"tower": TOWER, "pair": PAIR},
        "tower": {"inputs": {"images": ["batch", 1, SIZE, SIZE]},
                  "outputs": {"descriptors": ["batch", cfg.embedding_dim]}, "dtype": "float32"},
        "pair": {"inputs": {"a": ["batch", cfg.embedding_dim], "b": ["batch", cfg.embedding_dim]},
                 "outputs": {"distance": ["batch"], "same_probability": ["batch"]}, "dtype": "float32"},
        "threshold": cmp.threshold,
        "decision": "same digit when distance <= threshold",
        "metric": cfg.metric,
        "calibration": {"slope": slope, "intercept": intercept,
                        "used": cfg.metric != "head",  # the head's softmax needs none
                        "formula": "same_probability = sigmoid(slope * distance + intercept)"},
        "preprocessing": {"mnist_mean": MNIST_MEAN, "mnist_std": MNIST_STD, "normalized_in_graph": True,
                          "input": PREPROCESSING},
        "model_config": cfg.to_dict(),
        "step": cmp.checkpoint.get("step"),
        "metrics": {k: v for k, v in cmp.metrics.items() if isinstance(v, (int, float))},
        "versions": {"siamese": __version__, "torch": str(torch.__version__), "onnx_opset": opset},
    }


def export(checkpoint, out_dir) -> dict:
    """Write tower.onnx, pair.onnx and siamese.json for `checkpoint` (a path) into `out_dir`;
    returns the JSON's content."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (what torch.onnx's dynamo exporter writes the graphs with)
    except ImportError as e:
        raise RuntimeError("exporting needs the onnx and onnxscript packages "
                           "(pip install onnx onnxscript)") from e
    cmp = Comparator.from_checkpoint(checkpoint)  # the one loader; fp32 on the CPU
    model = cmp.model.to(memory_format=torch.contiguous_format).eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    d = model.config.embedding_dim
    with torch.no_grad():
        _export(Tower(model).eval(), (torch.rand(2, 1, SIZE, SIZE),), out / TOWER,
                ["images"], ["descriptors"])
        _export(PairScorer(model, cmp.calibration).eval(), (torch.randn(2, d), torch.randn(2, d)), out / PAIR,
                ["a", "b"], ["distance", "same_probability"])
    opsets = onnx.load(str(out / TOWER)).opset_import
    meta = metadata(cmp, next((o.version for o in opsets if o.domain in ("", "ai.onnx")), None))
    (out / META).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m siamese.export",
        description="Export a checkpoint as ONNX: tower.onnx (image -> descriptor), pair.onnx "
                    "(two descriptors -> distance, same_probability) and siamese.json (threshold, "
                    "preprocessing). Needs the onnx and onnxscript packages.")
    p.add_argument("checkpoint", help="a checkpoint written by siamese.train (.pt)")
    p.add_argument("--out", required=True, help="folder for the three files (made if missing)")
    a = p.parse_args(argv)
    try:
        meta = export(a.checkpoint, a.out)
    except (RuntimeError, ValueError, FileNotFoundError) as e:  # CheckpointError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(a.out)
    print(f"wrote {out / TOWER}, {out / PAIR}, {out / META} (metric {meta['metric']}, "
          f"threshold {meta['threshold']:.4f}, opset {meta['versions']['onnx_opset']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
