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

    python -m siamese.export --graphs siamese/graphs

writes the graphs the page runs in the browser for every model (siamese.bundle): the
preprocessing, a tower whose weights are a separate file, and a pair scorer whose model
numbers are inputs. They are committed; rerun this after changing `mnist_from_rgba`, the
tower or `bundle.pair_scores` (tests/test_bundle.py fails until then).
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import __version__, bundle
from .compare import Comparator, same_probability
from .config import ModelConfig
from .model import SiameseNet
from .preprocess import BOX, MNIST_MEAN, MNIST_STD, SIZE, MnistFromRGBA, normalize

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


def _export(module: nn.Module, args: tuple, path: Path, input_names, output_names, dynamic=None) -> None:
    """One graph into one file (weights inside). Axes: `dynamic`, or else every input's first
    axis free and named "batch"."""
    if dynamic is None:
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


# -- the browser's graphs (siamese.bundle) -------------------------------------------------------------
class TowerGraph(nn.Module):
    """SiameseNet.embed with the weights as arguments (BatchNorm folded, bundle.tower_parameters)
    and its two options as 0/1 inputs, so that one graph serves every model of the architecture."""

    def forward(self, images, final_relu, unit, conv1_weight, conv1_bias, conv2_weight, conv2_bias,
                conv3_weight, conv3_bias, linear_weight, linear_bias):
        x = F.relu(F.conv2d(normalize(images), conv1_weight, conv1_bias))  # (N, 64, 22, 22)
        x = F.max_pool2d(x, 2)  # (N, 64, 11, 11)
        x = F.relu(F.conv2d(x, conv2_weight, conv2_bias))  # (N, 128, 7, 7)
        x = F.relu(F.conv2d(x, conv3_weight, conv3_bias))  # (N, 256, 3, 3)
        x = F.linear(x.flatten(1), linear_weight, linear_bias)  # (N, 512)
        x = torch.where(final_relu > 0, F.relu(x), x)
        return torch.where(unit > 0, F.normalize(x, dim=-1), x)


class PairGraph(nn.Module):
    def forward(self, a, b, weights, euclidean, slope, intercept):
        return bundle.pair_scores(a, b, weights, euclidean, slope, intercept)


def _slim(path: Path) -> None:
    """Drop the exporter's per-node metadata (stack traces): 8x smaller files to download."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del model.graph.value_info[:]
    onnx.save(model, str(path))


def _weights_external(path: Path, config: ModelConfig) -> None:
    """tower.onnx's weight inputs -> float16 initializers stored in bundle.WEIGHTS at
    bundle.layout's offsets, each cast to float32 by a Cast node (ONNX Runtime folds the
    casts once, when it loads the model)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    places = {name: (shape, offset, nbytes) for name, shape, offset, nbytes in bundle.layout(config)}
    keep, casts = [], []
    for value in model.graph.input:
        if value.name not in places:
            keep.append(value)
            continue
        shape, offset, nbytes = places[value.name]
        t = TensorProto(name=f"{value.name}_f16", data_type=TensorProto.FLOAT16, dims=list(shape),
                        data_location=TensorProto.EXTERNAL)
        for key, v in (("location", bundle.WEIGHTS), ("offset", str(offset)), ("length", str(nbytes))):
            t.external_data.add(key=key, value=v)
        model.graph.initializer.append(t)
        casts.append(helper.make_node("Cast", [t.name], [value.name], to=TensorProto.FLOAT, name=f"cast_{value.name}"))
    del model.graph.input[:]
    model.graph.input.extend(keep)
    for node in reversed(casts):
        model.graph.node.insert(0, node)
    onnx.save(model, str(path))


def export_graphs(out_dir) -> list[Path]:
    """Write bundle.PREPROCESS, bundle.TOWER and bundle.PAIR into `out_dir` (see siamese.bundle)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = ModelConfig(channels=bundle.ARCHITECTURE["channels"], embedding_dim=bundle.ARCHITECTURE["embedding_dim"])
    side = torch.export.Dim("side", min=2, max=4096)
    one = lambda: torch.tensor(1.0)  # noqa: E731  (a new tensor per input: one shared is traced as one input)
    with torch.no_grad():
        _export(MnistFromRGBA().eval(), (torch.zeros(64, 48, 4, dtype=torch.uint8),), out / bundle.PREPROCESS,
                ["rgba"], ["image", "status"], {"rgba": {0: side, 1: torch.export.Dim("side_w", min=2, max=4096)}})
        weights = {name: torch.randn(shape) for name, shape in bundle.shapes(config).items()}
        _export(TowerGraph().eval(), (torch.rand(2, 1, SIZE, SIZE), one(), one(), *weights.values()), out / bundle.TOWER,
                ["images", "final_relu", "unit", *weights], ["descriptors"],
                {"images": {0: torch.export.Dim("batch", min=1)}, **{n: None for n in ["final_relu", "unit", *weights]}})
        d = config.embedding_dim
        batch = torch.export.Dim("batch", min=1)
        _export(PairGraph().eval(), (torch.randn(2, d), torch.randn(2, d), torch.rand(d), one(), one(), one()), out / bundle.PAIR,
                ["a", "b", "weights", "euclidean", "slope", "intercept"], ["distance", "same_probability", "log_odds"],
                {"a": {0: batch}, "b": {0: batch}, "weights": None, "euclidean": None, "slope": None, "intercept": None})
    for name in (bundle.PREPROCESS, bundle.TOWER, bundle.PAIR):
        _slim(out / name)
    _weights_external(out / bundle.TOWER, config)
    return [out / bundle.PREPROCESS, out / bundle.TOWER, out / bundle.PAIR]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m siamese.export",
        description="Export a checkpoint as ONNX: tower.onnx (image -> descriptor), pair.onnx "
                    "(two descriptors -> distance, same_probability) and siamese.json (threshold, "
                    "preprocessing). Needs the onnx and onnxscript packages.")
    p.add_argument("checkpoint", nargs="?", help="a checkpoint written by siamese.train (.pt)")
    p.add_argument("--out", help="folder for the three files (made if missing)")
    p.add_argument("--graphs", metavar="DIR",
                   help="instead: write the page's graphs, shared by every model (siamese.bundle), into DIR")
    a = p.parse_args(argv)
    if a.graphs:
        print("wrote " + ", ".join(str(f) for f in export_graphs(a.graphs)))
        return 0
    if not a.checkpoint or not a.out:
        p.error("give a checkpoint and --out (or --graphs DIR)")
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
