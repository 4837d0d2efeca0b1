"""One preprocessing path: any digit image -> the 28x28 float array MNIST is made of.

Training, evaluation, the page and scripts all go through `to_mnist` (for images from outside),
`to_float` (uint8 or float batches to the network's input format) and `normalize` (inside the
network), so the constants below live only here.

MNIST was made by scaling each NIST digit into a 20x20 box (keeping its aspect ratio, with
anti-aliasing) and placing that box in a 28x28 field so that its centre of mass sits at the
centre. `to_mnist` repeats those steps for drawings, photos and uploads.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

# Mean and standard deviation of MNIST training pixels scaled to [0, 1].
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

SIZE = 28  # output side
BOX = 20  # the digit's longest side after scaling, as in MNIST
INK_LEVEL = 0.1  # ink above this (after contrast stretch) counts for the bounding box
MIN_CONTRAST = 0.15  # below this the image is called blank
WORK_SIDE = 512  # larger inputs are reduced to this first: enough for a 20 px result, and fast
# Refuse images with more pixels than this before decoding them (decompression bombs).
MAX_PIXELS = int(os.environ.get("SIAMESE_MAX_PIXELS", 40_000_000))


class ImageError(ValueError):
    """The input cannot be turned into a digit image; the message says why, for people."""


class BlankImageError(ImageError):
    """The image holds no visible digit (empty canvas, uniform colour, too faint)."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than MAX_PIXELS."""


def to_float(images: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) or (N, 1, 28, 28), uint8 in 0..255 or float in [0, 1] -> (N, 1, 28, 28)
    float32 in [0, 1]: MNIST tensors, `to_mnist` output and training batches all enter the
    network through here."""
    x = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
    return x.unsqueeze(1) if x.dim() == 3 else x


def normalize(x):
    """[0, 1] MNIST-style pixels -> the network's input scale. Works on tensors and arrays."""
    return (x - MNIST_MEAN) / MNIST_STD


def open_image(source) -> Image.Image:
    """Open a path or bytes as a PIL image, refusing bombs and unreadable files with ImageError."""
    try:
        if isinstance(source, (bytes, bytearray)):
            img = Image.open(io.BytesIO(source))
        else:
            img = Image.open(Path(source))
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise ImageTooLargeError(
                f"image is {w}x{h} pixels; the limit is {MAX_PIXELS:,} pixels"
            )
        img.seek(0)  # first frame of an animation
        img.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageTooLargeError(f"image is too large to open safely ({e})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"not a readable image file ({type(e).__name__}: {e})") from None
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not cost the picture
        return img


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """PIL image of any mode -> float32 (H, W, C) in [0, 1], C in {1, 3, 4}."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(img, dtype=np.float32)[..., None] / 65535.0
    if img.mode in ("I", "F"):
        a = np.asarray(img, dtype=np.float32)
        hi = float(a.max()) if a.size else 1.0
        scale = 255.0 if hi <= 255 else (65535.0 if hi <= 65535 else hi)
        return np.clip(a / scale, 0, 1)[..., None]
    if img.mode == "L":
        return np.asarray(img, dtype=np.float32)[..., None] / 255.0
    # Every other mode (1, P, PA, LA, RGB, CMYK, YCbCr, ...) via RGBA keeps any transparency.
    try:
        return np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
    except (ValueError, OSError) as e:
        raise ImageError(f"unsupported image mode {img.mode!r} ({e})") from None


def _to_array(image) -> np.ndarray:
    """Accepted inputs -> float32 (H, W, C) in [0, 1]."""
    if isinstance(image, (str, Path, bytes, bytearray)):
        image = open_image(image)
    if isinstance(image, Image.Image):
        w, h = image.size
        if w * h > MAX_PIXELS:
            raise ImageTooLargeError(f"image is {w}x{h} pixels; the limit is {MAX_PIXELS:,}")
        return _pil_to_array(image)
    if hasattr(image, "detach"):  # torch tensor
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise ImageError(f"unsupported image type {type(image).__name__}")
    a = image
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # CHW -> HWC
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 2, 3, 4):
        raise ImageError(f"expected an H x W image with 1, 3 or 4 channels, got shape {a.shape}")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise ImageTooLargeError(f"image has {a.shape[0] * a.shape[1]:,} pixels; the limit is {MAX_PIXELS:,}")
    if a.shape[-1] == 2:  # grey + alpha
        a = np.concatenate([a[..., :1]] * 3 + [a[..., 1:]], axis=-1)
    if a.dtype == np.bool_:
        a = a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.integer):
        a = a.astype(np.float32) / (65535.0 if a.max(initial=0) > 255 else 255.0)
    else:
        with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf, refused below
            a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise ImageError("image contains NaN or infinite values")
        if a.max(initial=0) > 1.0:  # floats on a 0-255 scale
            a = a / 255.0
    return np.clip(a, 0.0, 1.0)


def _reduce(a: np.ndarray) -> np.ndarray:
    """Area-average very large (H, W, C) arrays down to about WORK_SIDE px: cheap and lossless
    for our purpose, since the digit ends up 20 px tall."""
    f = max(a.shape[0], a.shape[1]) // WORK_SIDE
    if f < 2:
        return a
    h, w = (a.shape[0] // f) * f, (a.shape[1] // f) * f
    return a[:h, :w].reshape(h // f, f, w // f, f, a.shape[2]).mean(axis=(1, 3))


def _stretch(ink: np.ndarray, border: np.ndarray) -> np.ndarray | None:
    """Remove the background level (median of the border) and scale the ink to peak at 1.
    Returns None when there is too little contrast to hold a digit."""
    bg = float(np.median(border))
    peak = float(ink.max())
    if peak - bg < MIN_CONTRAST:
        return None
    return np.clip((ink - bg) / (peak - bg), 0.0, 1.0)


def _ink_map(a: np.ndarray) -> np.ndarray:
    """(H, W, C) float in [0, 1] -> (H, W) ink in [0, 1], 0 = background, whatever the polarity."""
    rgb = a[..., :3] if a.shape[-1] >= 3 else np.repeat(a[..., :1], 3, axis=-1)
    alpha = a[..., 3] if a.shape[-1] == 4 else None
    if alpha is not None:
        rgb = rgb * alpha[..., None] + (1.0 - alpha[..., None])  # composite onto white
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # (H, W)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    # Dark ink on light paper (the usual drawing) or light ink on dark (MNIST itself)?
    ink = 1.0 - grey if np.median(border) >= 0.5 else grey
    inb = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    out = _stretch(ink, inb)
    if out is None and alpha is not None:
        # Light strokes on a transparent layer vanish on white: the alpha channel is the drawing.
        ab = np.concatenate([alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]])
        out = _stretch(alpha, ab)
    if out is None:
        raise BlankImageError("the image looks blank: draw or upload a digit")
    return out


def _resize(patch: np.ndarray, w: int, h: int) -> np.ndarray:
    img = Image.fromarray(patch.astype(np.float32), mode="F")
    # LANCZOS anti-aliases when shrinking (its support widens with the scale) and stays sharp
    # when enlarging; it can ring slightly below 0, hence the clip.
    return np.clip(np.asarray(img.resize((w, h), Image.Resampling.LANCZOS)), 0.0, 1.0)


def to_mnist(image) -> np.ndarray:
    """Turn a digit image into MNIST's format: float32 (28, 28) in [0, 1], white digit on black.

    `image` may be a PIL image (any mode, any size), a numpy array (H x W, H x W x 3/4, uint8
    or float), a torch tensor, or a file path / bytes. Transparency is composited onto white,
    polarity is detected from the border, the ink is cropped, scaled so its longest side is
    20 px, and placed in 28 x 28 by its centre of mass.

    Raises BlankImageError (a ValueError) for empty or near-empty input and ImageError for
    anything else that is not a usable image.
    """
    a = _reduce(_to_array(image))
    if min(a.shape[0], a.shape[1]) < 2:
        raise BlankImageError(f"the image is only {a.shape[1]}x{a.shape[0]} pixels: no digit fits")
    ink = _ink_map(a)  # (H, W)

    rows = np.flatnonzero((ink > INK_LEVEL).any(axis=1))
    cols = np.flatnonzero((ink > INK_LEVEL).any(axis=0))
    if rows.size == 0:
        raise BlankImageError("the image looks blank: draw or upload a digit")
    patch = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    ph, pw = patch.shape
    scale = BOX / max(ph, pw)
    h, w = max(1, round(ph * scale)), max(1, round(pw * scale))
    patch = _resize(patch, w, h)
    if patch.max() <= 0:
        raise BlankImageError("the digit is too faint to see")
    patch /= patch.max()  # thin strokes shrink to grey; MNIST strokes peak at full white

    # Place the 20 px box so that its centre of mass lands on pixel (14, 14), where MNIST's
    # digits have theirs (measured: mean 13.99, 14.01 over the test set).
    ys, xs = np.indices(patch.shape)
    mass = patch.sum()
    cy, cx = (ys * patch).sum() / mass, (xs * patch).sum() / mass
    top = int(np.clip(round(SIZE / 2 - cy), 0, SIZE - h))
    left = int(np.clip(round(SIZE / 2 - cx), 0, SIZE - w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + h, left : left + w] = patch
    return out
