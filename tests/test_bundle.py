"""The browser's graphs (siamese/graphs, siamese.bundle) against PyTorch: the committed
preprocessing graph is `mnist_from_rgba`, the shared tower with a model's weights.bin is the
model, the pair scorer is `Comparator`. (The same graphs in Chromium: tests/test_e2e_engine.py.)"""
import io

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from demo.examples import draw_strokes, example_pairs
from siamese import Comparator, bundle
from siamese.config import ModelConfig
from siamese.images import load_rgba
from siamese.model import SiameseNet
from siamese.pairs import fixed_pairs
from siamese.preprocess import BLANK, OK, mnist_from_rgba, run_graph

from .helpers import corpus, draw


@pytest.fixture(scope="module")
def tower_session(tmp_path_factory):
    """tower.onnx beside a weights.bin, as ONNX Runtime reads external data: from the folder."""
    folder = tmp_path_factory.mktemp("tower")
    (folder / bundle.TOWER).write_bytes((bundle.GRAPHS / bundle.TOWER).read_bytes())

    def session(model) -> ort.InferenceSession:
        (folder / bundle.WEIGHTS).write_bytes(bundle.weights_blob(model))
        return ort.InferenceSession(str(folder / bundle.TOWER), providers=["CPUExecutionProvider"])
    return session


def _embed(session, images: np.ndarray, config: ModelConfig) -> np.ndarray:
    """(N, 28, 28) float in [0, 1] -> (N, D) from tower.onnx."""
    x = images.astype(np.float32)[:, None]
    flags = {"final_relu": np.array(config.final_relu, np.float32), "unit": np.array(config.normalize, np.float32)}
    return np.concatenate([session.run(None, {"images": x[i : i + 1000], **flags})[0] for i in range(0, len(x), 1000)])


def _inputs():
    """Every kind of image the page meets: drawings of every size and position, uploads of every
    mode, the examples, the hostile corpus's readable files."""
    out = {f"stroke {d} {s}": draw_strokes(d, size=(s, s), width=max(3, s // 12))
           for d in "124579" for s in (28, 100, 280, 700)}
    out["small off-centre"] = draw(offset=(-70, 50), scale=0.5, width=12)
    out["light on dark"] = draw(ink=255, paper=0)
    strokes = np.asarray(draw(ink=255, paper=0))
    layer = np.zeros((280, 280, 4), np.uint8)
    layer[..., 3] = strokes
    out["black strokes on a transparent layer"] = layer
    white = layer.copy()
    white[..., :3] = 255
    out["white strokes on a transparent layer"] = white
    for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I", "I;16", "F"):
        out[f"mode {mode}"] = draw().convert(mode) if mode != "I;16" else Image.fromarray(np.asarray(draw()).astype(np.uint16) * 257)
    for pair in example_pairs():
        for f in pair:
            out[f] = f
    for name, data in corpus().items():
        out[f"corpus {name}"] = data
    return out


def test_the_committed_preprocessing_graph_is_mnist_from_rgba():
    """Fails when mnist_from_rgba changed and `python -m siamese.export --graphs siamese/graphs`
    was not rerun: the browser and to_mnist would then disagree with the code."""
    checked = 0
    for name, image in _inputs().items():
        try:
            rgba = load_rgba(image)
        except ValueError:
            continue  # unreadable: never reaches the graph
        if min(rgba.shape[:2]) < 2:
            continue
        want, want_status = mnist_from_rgba(torch.from_numpy(rgba.copy()))  # load_rgba may lend read-only memory
        got, got_status = run_graph(rgba)
        assert got_status == int(want_status), name
        np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-5, err_msg=name)
        checked += 1
    assert checked >= 40


def test_the_graph_reports_blanks_instead_of_raising():
    image, status = run_graph(np.full((50, 60, 4), 255, np.uint8))
    assert status == BLANK and not image.any()
    image, status = run_graph(np.asarray(draw_strokes("7", size=(280, 280))).copy())
    assert status == OK and image.shape == (28, 28) and image.max() == pytest.approx(1.0)


@pytest.mark.integration
def test_the_shipped_model_in_the_browser_graphs_agrees_with_pytorch(tower_session, comparator, mnist):
    """fp16 weights: >= 99.5 % of the 20,000 fixed test pairs get PyTorch's verdict, and every
    distance is within 1 % or 0.05 of PyTorch's."""
    images = mnist.test.images.numpy().astype(np.float32) / 255  # (10000, 28, 28)
    emb_onnx = _embed(tower_session(comparator.model), images, comparator.model.config)
    emb_torch = comparator.embed(mnist.test.images, fast=False).numpy()
    assert np.abs(emb_onnx - emb_torch).max() < 0.02 * max(1.0, np.abs(emb_torch).max())
    a, b, _ = fixed_pairs(mnist.test.labels)
    pair = ort.InferenceSession(str(bundle.GRAPHS / bundle.PAIR))
    params = bundle.pair_parameters(comparator)
    feeds = {"weights": np.asarray(params["weights"], np.float32),
             **{k: np.array(params[k], np.float32) for k in ("euclidean", "slope", "intercept")}}
    d_onnx, p_onnx, _ = pair.run(None, {"a": emb_onnx[a.numpy()], "b": emb_onnx[b.numpy()], **feeds})
    d_torch = comparator.distance(torch.from_numpy(emb_torch[a]), torch.from_numpy(emb_torch[b])).numpy()
    p_torch = comparator.same_probability(torch.from_numpy(emb_torch[a]), torch.from_numpy(emb_torch[b])).numpy()
    t = comparator.threshold
    agree = ((d_onnx <= t) == (d_torch <= t)).mean()
    assert agree >= 0.995, agree
    assert (np.abs(d_onnx - d_torch) <= np.maximum(0.01 * np.abs(d_torch), 0.05)).all()
    assert np.abs(p_onnx - p_torch).max() < 0.02


@pytest.mark.parametrize("config", [
    ModelConfig(),  # the blog's: head metric, final ReLU
    ModelConfig(metric="euclidean", normalize=True, final_relu=False),  # generalise, supcon
    ModelConfig(metric="euclidean", batchnorm=True),  # BatchNorm, folded into the convolutions
], ids=["blog", "unit-euclidean", "batchnorm"])
def test_every_model_of_the_architecture_runs_in_the_shared_graphs(tower_session, config):
    torch.manual_seed(0)
    model = SiameseNet(config)
    if config.batchnorm:  # running statistics that are not the identity
        model.train()
        with torch.no_grad():
            model.embed(torch.rand(64, 1, 28, 28))
    model.eval()
    ckpt = {"state_dict": model.state_dict(), "model_config": config.to_dict(), "threshold": 1.0,
            "calibration": {"slope": -3.0, "intercept": 2.0}}
    cmp = Comparator(model, ckpt)
    x = torch.rand(16, 28, 28)
    want = cmp.embed(x, fast=False).numpy()
    got = _embed(tower_session(cmp.model), x.numpy(), config)
    np.testing.assert_allclose(got, want, rtol=0, atol=3e-3 * max(1.0, np.abs(want).max()))
    pair = ort.InferenceSession(str(bundle.GRAPHS / bundle.PAIR))
    params = bundle.pair_parameters(cmp)
    d, p, lo = pair.run(None, {"a": want[:8], "b": want[8:], "weights": np.asarray(params["weights"], np.float32),
                               **{k: np.array(params[k], np.float32) for k in ("euclidean", "slope", "intercept")}})
    ea, eb = torch.from_numpy(want[:8]), torch.from_numpy(want[8:])
    np.testing.assert_allclose(d, cmp.distance(ea, eb).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(p, cmp.same_probability(ea, eb).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lo, cmp.same_log_odds(ea, eb).numpy(), rtol=1e-5, atol=1e-4)


def test_the_weights_file_follows_the_layout_and_names_its_content():
    model = SiameseNet()
    blob = bundle.weights_blob(model)
    places = bundle.layout(model.config)
    assert len(blob) == places[-1][2] + places[-1][3] + (-places[-1][3]) % bundle.ALIGN
    name, shape, offset, nbytes = places[2]  # conv2's weight
    got = np.frombuffer(blob[offset : offset + nbytes], np.float16).reshape(shape)
    np.testing.assert_array_equal(got, model.tower[3].weight.detach().numpy().astype(np.float16))
    assert bundle.digest(blob) != bundle.digest(bundle.weights_blob(SiameseNet()))  # another init, another name
    assert not bundle.supported(ModelConfig(embedding_dim=64))


def test_a_drawing_reaches_the_same_28x28_through_a_png_and_through_its_pixels():
    """The browser runs the graph on the pad's pixels; the server on the PNG of the same pixels."""
    img = draw_strokes("5", size=(280, 280))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    a, _ = run_graph(load_rgba(buf.getvalue()))
    b, _ = run_graph(np.asarray(img).copy())
    np.testing.assert_array_equal(a, b)
