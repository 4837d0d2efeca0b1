"""to_mnist on synthetic drawings: position, size, polarity, transparency, blanks, formats."""
import io

import numpy as np
import pytest
from PIL import Image

from siamese.preprocess import BlankImageError, ImageError, ImageTooLargeError, open_image, to_mnist

from .helpers import draw


def com(a):
    ys, xs = np.indices(a.shape)
    return (ys * a).sum() / a.sum(), (xs * a).sum() / a.sum()


def test_output_is_mnist_shaped():
    out = to_mnist(draw())
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == 20  # longest side 20 px, as MNIST
    cy, cx = com(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5  # centred by mass, as MNIST
    assert out[0].sum() == 0 and out[:, 0].sum() == 0  # black background


def test_shift_and_scale_do_not_matter():
    ref = to_mnist(draw())
    shifted = to_mnist(draw(offset=(-70, 50), scale=0.5, width=12))
    big = to_mnist(draw(size=900, width=77))
    assert np.abs(ref - shifted).mean() < 0.05
    assert np.abs(ref - big).mean() < 0.05


def test_inverted_colours_give_the_same_digit():
    dark_on_light = to_mnist(draw(ink=0, paper=255))
    light_on_dark = to_mnist(draw(ink=255, paper=0))
    assert np.abs(dark_on_light - light_on_dark).max() < 1e-6


def test_rgba_with_transparency_is_composited_on_white():
    ref = to_mnist(draw())
    strokes = np.asarray(draw(ink=255, paper=0))  # 255 where the stroke is
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = strokes  # black strokes, transparent elsewhere (as a Sketchpad layer)
    assert np.abs(to_mnist(rgba) - ref).max() < 1e-6
    white_strokes = rgba.copy()
    white_strokes[..., :3] = 255  # white on transparent: invisible on white, so alpha is the ink
    assert np.abs(to_mnist(white_strokes) - ref).max() < 1e-6


def test_accepts_the_documented_formats(tmp_path):
    img = draw()
    ref = to_mnist(img)
    a = np.asarray(img)
    path = tmp_path / "seven.png"
    img.save(path)
    variants = [a, a.astype(np.float32) / 255, a.astype(np.float64), np.stack([a] * 3, -1),
                np.dstack([a, a, a, np.full_like(a, 255)]), img.convert("RGB"), str(path), path,
                path.read_bytes(), img.convert("P"), img.convert("1")]
    for v in variants:
        assert np.abs(to_mnist(v) - ref).mean() < 0.02, type(v)


@pytest.mark.parametrize("image", [
    np.full((100, 100), 255, np.uint8),  # white page
    np.zeros((100, 100, 4), np.uint8),  # fully transparent
    np.full((50, 50, 3), 128, np.uint8),  # uniform grey
    np.full((1, 1), 0, np.uint8),  # a single pixel
    (np.random.default_rng(0).random((64, 64)) * 20 + 200).astype(np.uint8),  # faint noise
])
def test_blank_images_raise_a_clear_valueerror(image):
    with pytest.raises(BlankImageError, match="blank|pixels|faint"):
        to_mnist(image)
    assert issubclass(BlankImageError, ValueError)


def test_unreadable_and_oversized_files(tmp_path):
    with pytest.raises(ImageError, match="not a readable image"):
        to_mnist(b"this is text, not a PNG")
    png = io.BytesIO()
    draw().save(png, format="PNG")
    with pytest.raises(ImageError):
        to_mnist(png.getvalue()[:100])  # truncated
    bomb = tmp_path / "bomb.png"
    Image.new("1", (10_000, 5_000)).save(bomb)  # 50 Mpx, a few KB on disk
    with pytest.raises(ImageTooLargeError):
        open_image(bomb)


def test_rejects_nonsense_arrays():
    with pytest.raises(ImageError):
        to_mnist(np.zeros((3, 3, 3, 3)))
    with pytest.raises(ImageError):
        to_mnist(np.full((10, 10), np.nan, np.float32))
    with pytest.raises(ImageError):
        to_mnist("not an image but a string with no file")


@pytest.mark.integration
def test_real_mnist_digits_barely_change(mnist):
    images = mnist.test.images[:500].numpy()
    out = np.stack([to_mnist(im) for im in images])
    ref = images.astype(np.float32) / 255
    per_image = np.abs(out - ref).mean(axis=(1, 2))
    assert per_image.mean() < 0.01, per_image.mean()
    corr = [np.corrcoef(o.ravel(), r.ravel())[0, 1] for o, r in zip(out, ref)]
    assert np.median(corr) > 0.95
