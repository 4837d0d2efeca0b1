"""The network in the browser against PyTorch, in headless Chromium: the page's own engine
(demo/assets/engine.js, ONNX Runtime Web on siamese/graphs with the shipped model's float16
weights) on MNIST test pairs, on drawn strokes and on uploads of every kind the page takes."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from demo.examples import draw_strokes
from siamese import to_mnist
from siamese.preprocess import run_graph

from .browser import ONE, SEVEN, draw, wait_until, wait_verdict

pytestmark = pytest.mark.e2e

BOARD = "document.querySelector('#compare-board .board').parentElement.siameseBoard"


def ready(pg):
    wait_until(pg, lambda: "runs in your browser" in pg.inner_text("#engine-note"), "the network in the browser")
    return pg


def browser_embed(pg, images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, D) descriptors from the page's engine and model, 200 at a time."""
    out = []
    for i in range(0, len(images), 200):
        data = base64.b64encode(images[i : i + 200].tobytes()).decode()
        out += pg.evaluate(f"""async (data) => {{
          const b = {BOARD}, raw = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const ims = [];
          for (let k = 0; k < raw.length; k += 784) ims.push(Float32Array.from(raw.subarray(k, k + 784), (v) => v / 255));
          const d = await b.engine.embed(b.state.session, b.state.model, ims);
          return d.map((x) => Array.from(x));
        }}""", data)
    return np.asarray(out, np.float32)


def browser_pair(pg, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    got = pg.evaluate(f"""async ([a, b]) => {{
      const s = {BOARD};
      const r = await s.engine.pair(s.state.model, a.map((x) => Float32Array.from(x)), b.map((x) => Float32Array.from(x)));
      return r.map((x) => [x.distance, x.probability]);
    }}""", [a.tolist(), b.tolist()])
    return np.asarray(got, np.float64)


@pytest.mark.integration
def test_browser_and_pytorch_give_the_same_verdicts_on_1000_mnist_pairs(page, mnist, comparator):
    """>= 99.5 % of verdicts equal, every distance within 1 % or 0.05 (float16 weights here,
    float32 in PyTorch)."""
    ready(page)
    images, labels = mnist.test.images[:2000].numpy(), mnist.test.labels[:2000].numpy()
    rng = np.random.default_rng(0)
    same = [(i, j) for i, j in zip(rng.permutation(2000), rng.permutation(2000)) if labels[i] == labels[j] and i != j]
    diff = [(i, j) for i, j in zip(rng.permutation(2000), rng.permutation(2000)) if labels[i] != labels[j]]
    pairs = np.asarray(same[:500] + diff[: 1000 - len(same[:500])])
    assert len(pairs) == 1000
    emb_b = browser_embed(page, images)
    emb_t = comparator.embed(torch.from_numpy(images), fast=False)
    a, b = torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])
    d_t = comparator.distance(emb_t[a], emb_t[b]).numpy()
    got = browser_pair(page, emb_b[pairs[:, 0]], emb_b[pairs[:, 1]])
    d_b, p_b = got[:, 0], got[:, 1]
    t = comparator.threshold
    agree = ((d_b <= t) == (d_t <= t)).mean()
    print(f"browser vs PyTorch, 1000 MNIST pairs: verdicts equal {agree:.4f}, "
          f"max |distance difference| {np.abs(d_b - d_t).max():.4f}")  # pytest -s shows it
    assert agree >= 0.995, agree
    close = np.abs(d_b - d_t) <= np.maximum(0.01 * np.abs(d_t), 0.05)
    assert close.all(), np.abs(d_b - d_t)[~close][:5]
    p_t = comparator.same_probability(emb_t[a], emb_t[b]).numpy()
    assert np.abs(p_b - p_t).max() < 0.02


def side_image(pg, side: str) -> np.ndarray:
    """The 28x28 image the page's engine made for a side."""
    wait_until(pg, lambda: pg.evaluate(f"!!{BOARD}.sides.{side}.image"), f"side {side}'s 28x28")
    return np.asarray(pg.evaluate(f"Array.from({BOARD}.sides.{side}.image)"), np.float32).reshape(28, 28)


def test_a_drawing_reaches_the_network_as_the_server_would_make_it(page):
    """The pad's own pixels through the browser's graph and through Python's: the same 28x28."""
    ready(page)
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    wait_verdict(page)
    for side in "ab":
        rgba = page.evaluate(f"""() => {{ const p = {BOARD}.sides.{side}.pad.pixels();
                                          return [p.width, p.height, window.SiamesePad.b64(p.data)]; }}""")
        pixels = np.frombuffer(base64.b64decode(rgba[2]), np.uint8).reshape(rgba[1], rgba[0], 4).copy()
        want, status = run_graph(pixels)
        assert status == 0
        assert np.abs(side_image(page, side) - want).max() < 1e-4


def _files(tmp_path) -> dict:
    """A 7 in every kind of file the upload takes."""
    seven = draw_strokes("7", size=(300, 300), width=26)
    out = {}

    def save(name, img, fmt, **kw):
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        path = tmp_path / name
        path.write_bytes(buf.getvalue())
        out[name] = path

    for mode in ("RGBA", "RGB", "L", "LA", "P", "1"):
        save(f"seven_{mode}.png", seven.convert(mode), "PNG")
    save("seven_16bit.png", Image.fromarray(np.asarray(seven.convert("L")).astype(np.uint16) * 257), "PNG")
    transparent = np.zeros((300, 300, 4), np.uint8)
    transparent[..., 3] = 255 - np.asarray(seven.convert("L"))  # dark strokes on a transparent sheet
    save("seven_transparent.png", Image.fromarray(transparent, "RGBA"), "PNG")
    save("seven_inverted.png", Image.fromarray(255 - np.asarray(seven.convert("L"))), "PNG")  # light on dark
    save("seven.jpg", seven.convert("RGB"), "JPEG", quality=92)
    save("seven.webp", seven, "WEBP", lossless=True)
    save("seven.gif", seven.convert("P"), "GIF")
    big = draw_strokes("7", size=(2400, 1800), width=200)  # reduced on the way, both sides the same way
    save("seven_big.png", big, "PNG")
    return out


def test_uploads_of_every_kind_reach_the_network_as_the_server_makes_them(page, tmp_path, comparator):
    ready(page)
    page.click("#tab-upload-a-button")
    draw(page, "b", SEVEN)
    for name, path in _files(tmp_path).items():
        before = page.evaluate(f"{BOARD}.sides.a.version")
        page.set_input_files("#upload-a input[type=file]", str(path))
        # decoded (the version moves on), then preprocessed (the version seen, nothing computing)
        wait_until(page, lambda: page.evaluate(f"""(() => {{ const b = {BOARD}, s = b.sides.a;
            return s.version > {before} && s.seen === s.version && !b.state.computing && !b.state.frame
                   && ['ok', 'blank', 'error'].includes(s.status); }})()"""), name)
        got = side_image(page, "a")
        want = to_mnist(path)
        diff = np.abs(got - want)
        assert diff.mean() < 0.01 and diff.max() < 0.2, (name, diff.mean(), diff.max())
        assert wait_verdict(page) == "same", name
        emb = comparator.embed(np.stack([got, want]))
        d = float(comparator.distance(emb[:1], emb[1:])[0])
        assert abs(d) < 0.5, (name, d)  # the two 28x28s are the same digit to the network
