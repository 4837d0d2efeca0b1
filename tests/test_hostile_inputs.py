"""Whatever people upload: random arrays and images (hypothesis) and a corpus of bad files made
here. Each yields a 28x28 result or an ImageError with a message; nothing else escapes."""
import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from siamese.preprocess import ImageError, ImageTooLargeError, open_image, to_mnist
from tests.test_preprocess import draw


def check(image):
    try:
        out = to_mnist(image)
    except ImageError as e:
        assert str(e)  # a message for people
        return None
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    return out


shapes = st.tuples(st.integers(1, 120), st.integers(1, 120)).flatmap(
    lambda hw: st.sampled_from([hw, hw + (1,), hw + (2,), hw + (3,), hw + (4,)]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays(st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.bool_]), shapes))
def test_random_arrays(a):
    check(a)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["1", "L", "P", "RGB", "RGBA", "LA", "PA", "I", "I;16", "F", "CMYK",
                        "YCbCr", "HSV", "La"]),
       st.integers(1, 90), st.integers(1, 90), st.integers(0, 2**32 - 1))
def test_random_pil_images(mode, w, h, seed):
    noise = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    img = Image.fromarray(noise, "L").convert(mode) if mode not in ("I;16", "La") else Image.new(mode, (w, h))
    check(img)


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


@pytest.mark.parametrize("name,data", list(corpus().items()))
def test_bad_file_corpus(name, data, tmp_path):
    path = tmp_path / "upload.png"
    path.write_bytes(data)
    out = check(str(path))
    if name in EXPECT_OK:
        assert out is not None, name
        assert np.abs(out - to_mnist(draw())).mean() < 0.08 or name in ("huge exif", "animated gif")
    else:
        assert out is None, name
    assert check(draw()) is not None  # and the next request still works


def test_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(corpus()["decompression bomb"])
    with pytest.raises(ImageTooLargeError, match="limit"):
        open_image(path)
    with pytest.raises(ImageTooLargeError):
        to_mnist(np.zeros((9000, 9000), np.uint8))  # 81 Mpx in memory
