"""ONNX export (siamese/export.py): onnxruntime reproduces the PyTorch model on the real MNIST
test digits, and docs/onnx.md's snippet scores a pair with onnxruntime, numpy and PIL alone."""
import json
import re
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from demo.examples import example_pairs
from siamese import to_mnist
from siamese.pairs import fixed_pairs
from siamese.preprocess import MNIST_MEAN, MNIST_STD

from .conftest import CHECKPOINT
from .helpers import ROOT, run


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The shipped checkpoint exported by the CLI into <tmp>/runs/onnx (docs/onnx.md's folder)."""
    root = tmp_path_factory.mktemp("export")
    r = run("siamese.export", str(CHECKPOINT), "--out", str(root / "runs" / "onnx"))
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout
    return root


def _sessions(exported):
    folder = exported / "runs" / "onnx"
    return (ort.InferenceSession(str(folder / "tower.onnx")), ort.InferenceSession(str(folder / "pair.onnx")),
            json.loads((folder / "siamese.json").read_text()))


def test_the_json_carries_what_a_runtime_needs(exported, comparator):
    _, _, meta = _sessions(exported)
    assert meta["threshold"] == comparator.threshold and meta["metric"] == "head"
    pre = meta["preprocessing"]
    assert pre["mnist_mean"] == MNIST_MEAN and pre["mnist_std"] == MNIST_STD and pre["normalized_in_graph"]
    assert meta["model_config"] == comparator.model.config.to_dict()
    assert meta["tower"]["inputs"] == {"images": ["batch", 1, 28, 28]}


def test_onnxruntime_reproduces_pytorch_on_the_mnist_test_digits(exported, mnist, comparator):
    tower, pair, meta = _sessions(exported)
    images = mnist.test.images  # (10000, 28, 28) uint8
    x = (images.float() / 255).unsqueeze(1).numpy()  # (10000, 1, 28, 28) in [0, 1]
    emb_torch = comparator.embed(images, fast=False)  # fp32, as the threshold was chosen
    emb_onnx = np.concatenate([tower.run(None, {"images": x[i : i + 1000]})[0]
                               for i in range(0, len(x), 1000)])  # (10000, 512)
    # the free batch axis: one image alone gives its row of a batch
    alone = tower.run(None, {"images": x[7:8]})[0]
    np.testing.assert_allclose(alone[0], emb_onnx[7], rtol=0, atol=1e-4)

    a, b, same = fixed_pairs(mnist.test.labels)  # the 20,000 fixed test pairs
    d_torch = comparator.distance(emb_torch[a], emb_torch[b]).numpy()
    p_torch = comparator.same_probability(emb_torch[a], emb_torch[b]).numpy()
    d_onnx, p_onnx = pair.run(None, {"a": emb_onnx[a.numpy()], "b": emb_onnx[b.numpy()]})

    desc = float(np.abs(emb_onnx - emb_torch.numpy()).max())
    dist = float(np.abs(d_onnx - d_torch).max())
    prob = float(np.abs(p_onnx - p_torch).max())
    print(f"onnxruntime vs PyTorch on 10,000 test digits: descriptors {desc:.2e} (largest value "
          f"{float(emb_torch.abs().max()):.1f}), distances {dist:.2e} (range {d_torch.min():.1f} to "
          f"{d_torch.max():.1f}), p(same) {prob:.2e}")
    # fp32 throughout: only the kernels' summation order differs (measured 6e-6, 3e-5, 3e-6)
    assert desc <= 1e-4 and dist <= 1e-3 and prob <= 1e-5
    assert np.array_equal(d_onnx <= meta["threshold"], d_torch <= comparator.threshold)  # the same verdicts
    assert float(((d_onnx <= meta["threshold"]) == same.bool().numpy()).mean()) > 0.99  # and still right


@pytest.mark.process
def test_a_contrastive_model_exports_its_euclidean_distance_and_calibration(mnist, tmp_path):
    from siamese import Comparator
    from siamese.config import TrainConfig
    from siamese.train import Trainer

    trainer = Trainer(TrainConfig(loss="contrastive", max_steps=20, batch_size=64, eval_every=1e9,
                                  eval_size=100), data=mnist)
    list(trainer.run())
    trainer.save(tmp_path / "contrastive.pt", trainer.finalize(full_eval=False))
    r = run("siamese.export", str(tmp_path / "contrastive.pt"), "--out", str(tmp_path / "onnx"))
    assert r.returncode == 0, r.stderr
    cmp = Comparator.from_checkpoint(tmp_path / "contrastive.pt")
    meta = json.loads((tmp_path / "onnx" / "siamese.json").read_text())
    assert meta["metric"] == "euclidean" and meta["calibration"]["used"]
    assert (meta["calibration"]["slope"], meta["calibration"]["intercept"]) == cmp.calibration

    images = mnist.test.images[:2000]
    emb = cmp.embed(images, fast=False)
    a, b, _ = fixed_pairs(mnist.test.labels[:2000])
    pair = ort.InferenceSession(str(tmp_path / "onnx" / "pair.onnx"))
    d_onnx, p_onnx = pair.run(None, {"a": emb[a].numpy(), "b": emb[b].numpy()})
    np.testing.assert_allclose(d_onnx, cmp.distance(emb[a], emb[b]).numpy(), rtol=0, atol=1e-4)
    np.testing.assert_allclose(p_onnx, cmp.same_probability(emb[a], emb[b]).numpy(), rtol=0, atol=1e-5)


def _docs_snippet() -> str:
    """The Python block of docs/onnx.md."""
    page = (ROOT / "docs" / "onnx.md").read_text()
    return re.search(r"```python\n(.*?)```", page, re.S).group(1)


@pytest.mark.process
def test_the_docs_snippet_scores_a_pair_with_onnxruntime_numpy_and_pil_alone(exported, comparator):
    a_path, b_path = example_pairs()[0]  # a drawn 7 and a DejaVu 7
    arrays = []
    for path, name in ((a_path, "a.png"), (b_path, "b.png")):
        arr = (to_mnist(path) * 255).round().astype(np.uint8)  # as an MNIST-style PNG holds it
        Image.fromarray(arr).save(exported / name)
        arrays.append(arr.astype(np.float32) / 255)
    alone = '\nimport sys\nassert "torch" not in sys.modules and "siamese" not in sys.modules\n'
    r = subprocess.run([sys.executable, "-c", _docs_snippet() + alone], cwd=exported,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(r"distance (\S+), p\(same\) (\S+), same: (True|False)\n", r.stdout)
    assert m, r.stdout
    emb = comparator.embed(np.stack(arrays), fast=False)
    d = float(comparator.distance(emb[:1], emb[1:])[0])
    p = float(comparator.same_probability(emb[:1], emb[1:])[0])
    assert float(m.group(1)) == pytest.approx(d, abs=2e-3)
    assert float(m.group(2)) == pytest.approx(p, abs=2e-3)
    assert m.group(3) == str(d <= comparator.threshold) == "True"  # two sevens


@pytest.mark.process
def test_a_bad_checkpoint_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("nope")
    r = run("siamese.export", str(bad), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "not a loadable checkpoint" in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.process
def test_a_model_with_every_generalise_option_exports(tmp_path):
    """Unit descriptors, BatchNorm and no final ReLU (issue 14's options) survive the export:
    onnxruntime gives the PyTorch descriptors (unit length) and distances."""
    from siamese import Comparator
    from siamese.checkpoint import save_checkpoint
    from siamese.config import ModelConfig
    from siamese.model import SiameseNet

    torch.manual_seed(0)
    net = SiameseNet(ModelConfig(channels=(8, 16, 16), embedding_dim=32, metric="euclidean",
                                 normalize=True, batchnorm=True, final_relu=False))
    net.train()(torch.rand(16, 1, 28, 28), torch.rand(16, 1, 28, 28))  # BatchNorm statistics move
    save_checkpoint(tmp_path / "opts.pt", net.eval(), threshold=0.8, calibration={"slope": -5.0, "intercept": 4.0})
    r = run("siamese.export", str(tmp_path / "opts.pt"), "--out", str(tmp_path / "onnx"))
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "onnx" / "siamese.json").read_text())
    assert meta["model_config"]["normalize"] and meta["model_config"]["batchnorm"]
    cmp = Comparator.from_checkpoint(tmp_path / "opts.pt")
    x = torch.rand(6, 1, 28, 28)
    emb = cmp.embed(x, fast=False)
    tower = ort.InferenceSession(str(tmp_path / "onnx" / "tower.onnx"))
    pair = ort.InferenceSession(str(tmp_path / "onnx" / "pair.onnx"))
    e_onnx = tower.run(None, {"images": x.numpy()})[0]
    np.testing.assert_allclose(e_onnx, emb.numpy(), rtol=0, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(e_onnx, axis=1), 1.0, atol=1e-4)
    d_onnx, p_onnx = pair.run(None, {"a": emb[:3].numpy(), "b": emb[3:].numpy()})
    np.testing.assert_allclose(d_onnx, cmp.distance(emb[:3], emb[3:]).numpy(), rtol=0, atol=1e-4)
    np.testing.assert_allclose(p_onnx, cmp.same_probability(emb[:3], emb[3:]).numpy(), rtol=0, atol=1e-5)
