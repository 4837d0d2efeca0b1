"""What several test modules build alike: stub models, Gradio-shaped inputs, bad files, a page
served in-process, a /compare call."""
from __future__ import annotations

import contextlib
import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image, ImageDraw

from demo.examples import draw_strokes, example_pairs
from demo.measure.launch import free_port
from siamese.reference import Reference

ROOT = Path(__file__).resolve().parents[1]


# -- a stub model whose descriptors are pixels ----------------------------------------------------
class StubComparator:
    """Descriptor = the first three pixels of row 0 (as numbers); Euclidean distance;
    p(same) = sigmoid(1 - d)."""

    device = torch.device("cpu")
    threshold = 1.0

    def __init__(self, weights=None, metrics=None):
        self.model = SimpleNamespace(metric_weights=lambda: weights)
        self.metrics = dict(metrics or {})

    def embed(self, images, fast=None, stop=None):
        return torch.as_tensor(np.asarray(images)).float()[:, 0, :3]

    def distance(self, a, b):
        return (a - b).pow(2).sum(-1).sqrt()

    def same_probability(self, a, b):
        return torch.sigmoid(self.same_log_odds(a, b))

    def same_log_odds(self, a, b):
        return 1 - self.distance(a, b)


def stub_images(descriptors) -> torch.Tensor:
    d = torch.as_tensor(descriptors, dtype=torch.uint8)
    images = torch.zeros(len(d), 28, 28, dtype=torch.uint8)
    images[:, 0, : d.shape[1]] = d
    return images


def stub_reference(per_class: int = 3, metrics=None) -> Reference:
    """10 classes; item i of class c has descriptor (20 c, i, 0): classes 20 apart on x, items
    of a class 1 apart."""
    desc = [[20 * (c % 10), i, 0] for c in range(10) for i in range(per_class)]
    labels = torch.tensor([c for c in range(10) for _ in range(per_class)])
    return Reference(StubComparator(metrics=metrics), stub_images(desc), labels)


# -- inputs the way Gradio hands them over ---------------------------------------------------
def sketch(digit: str) -> dict:
    """A Sketchpad value with `digit` drawn: RGBA composite, white paper, black ink."""
    return {"background": None, "layers": [], "composite": np.asarray(draw_strokes(digit, size=(280, 280)))}


def blank_sketch() -> dict:
    return {"background": None, "layers": [], "composite": np.full((280, 280, 4), 255, np.uint8)}


def drawn_png(digit: str) -> bytes:
    """`digit` drawn on a pad's 280 x 280 paper, as the page's script sends a drawing: a PNG."""
    return png_bytes(draw_strokes(digit, size=(280, 280)))


def pad_value(digit: str) -> dict:
    """A drawing pad's value (demo.inputs.digit_pad) once `digit` is drawn on it."""
    import base64

    return {"png": base64.b64encode(drawn_png(digit)).decode("ascii")}


def png_bomb(path: Path, side: int = 7000) -> Path:
    """A valid greyscale PNG of side x side pixels (49 M > the 40 M limit) in ~50 kB."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    c = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    idat = b"".join(c.compress(row) for _ in range(side)) + c.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, a phrase the error message must contain)."""
    from PIL import Image

    tmp.mkdir(parents=True, exist_ok=True)
    Image.new("L", (1, 1), 0).save(tmp / "one_pixel.png")
    Image.new("L", (64, 64), 255).save(tmp / "blank.png")
    (tmp / "notes.txt").write_text("this is not an image")
    good = Path(example_pairs()[0][0]).read_bytes()
    (tmp / "truncated.png").write_bytes(good[:200])
    return {
        "one_pixel": (tmp / "one_pixel.png", "1x1"),
        "blank": (tmp / "blank.png", "blank"),
        "not_an_image": (tmp / "notes.txt", "not a readable image"),
        "corrupt": (tmp / "truncated.png", "not a readable image"),
        "bomb": (png_bomb(tmp / "bomb.png"), "limit"),
    }


# -- synthetic digits and bad files -------------------------------------------------------------
SEVEN = [(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]  # a 7 as a polyline, in canvas fractions


def draw(points=SEVEN, size=280, width=24, offset=(0, 0), scale=1.0, ink=0, paper=255, mode="L"):
    img = Image.new(mode, (size, size), paper)
    pts = [(offset[0] + size * (0.5 + (x - 0.5) * scale), offset[1] + size * (0.5 + (y - 0.5) * scale))
           for x, y in points]
    ImageDraw.Draw(img).line(pts, fill=ink, width=width, joint="curve")
    return img


def png_bytes(img, **kw):
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def corpus():
    seven = draw()
    files = {}
    files["zero-byte"] = b""
    files["truncated png"] = png_bytes(seven)[:200]
    files["text renamed .png"] = b"hello, I am definitely a PNG"
    # A valid PNG header that claims 30000 x 30000 pixels: a decompression bomb if decoded.
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    files["decompression bomb"] = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                                   + chunk(b"IDAT", zlib.compress(b"\x00" * 30001 * 64)) + chunk(b"IEND", b""))
    files["16-bit png"] = png_bytes(Image.fromarray((np.asarray(seven).astype(np.uint16) * 257)))
    buf = io.BytesIO()
    seven.convert("CMYK").save(buf, format="JPEG")
    files["cmyk jpeg"] = buf.getvalue()
    pal = seven.convert("P")
    files["palette with transparency"] = png_bytes(pal, transparency=255)
    buf = io.BytesIO()
    frames = [seven, draw(points=[(0.5, 0.1), (0.5, 0.9)])]
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    files["animated gif"] = buf.getvalue()
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = "x" * 60000  # ImageDescription: a 60 KB EXIF block
    exif[0x0112] = 6  # orientation: rotated
    seven.convert("RGB").save(buf, format="JPEG", exif=exif.tobytes())
    files["huge exif"] = buf.getvalue()
    buf = io.BytesIO()
    seven.save(buf, format="WEBP")
    files["webp"] = buf.getvalue()
    return files


EXPECT_OK = {"16-bit png", "cmyk jpeg", "palette with transparency", "animated gif", "huge exif", "webp"}


# -- entry points and a page served in-process ------------------------------------------------------------------
def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@contextlib.contextmanager
def served_demo(**build_kwargs):
    """demo.app.build_demo(**build_kwargs) served in-process on a free loopback port; yields
    the Blocks (its URL: .local_url) and closes it afterwards."""
    from demo import limits
    from demo.app import build_demo

    demo = build_demo(**build_kwargs)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True,
                max_threads=limits.JOB_SLOTS)  # as app.py serves it
    try:
        yield demo
    finally:
        demo.close()
        demo.models.close()


def compare(client, a, b):
    from gradio_client import handle_file

    return client.predict(handle_file(str(a)) if a else None, handle_file(str(b)) if b else None,
                          api_name="/compare")
