"""Whatever people upload: random arrays and images (hypothesis) and a corpus of bad files made
here. Each yields a 28x28 result or an ImageError with a message; nothing else escapes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from siamese.preprocess import ImageError, ImageTooLargeError, open_image, to_mnist

from .helpers import EXPECT_OK, corpus, draw


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
def test_random_arrays_give_a_digit_or_a_clear_error(a):
    check(a)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["1", "L", "P", "RGB", "RGBA", "LA", "PA", "I", "I;16", "F", "CMYK",
                        "YCbCr", "HSV", "La"]),
       st.integers(1, 90), st.integers(1, 90), st.integers(0, 2**32 - 1))
def test_random_pil_images_give_a_digit_or_a_clear_error(mode, w, h, seed):
    noise = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    img = Image.fromarray(noise, "L").convert(mode) if mode not in ("I;16", "La") else Image.new(mode, (w, h))
    check(img)


@pytest.mark.parametrize("name,data", list(corpus().items()))
def test_bad_files_give_a_digit_or_a_clear_error(name, data, tmp_path):
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
