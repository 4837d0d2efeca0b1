"""Any image a person might hand over -> a small RGBA array, in bounded memory and time.

`load_rgba(source)` takes a path, bytes, a PIL image or an array and returns uint8 (H, W, 4):
straight (not premultiplied) RGBA with max(H, W) < 2 * WORK_SIDE, ready for
`siamese.preprocess` (whose 20-px digit needs no more). Large images are reduced while they are
decoded, on 8-bit data, in C (Pillow), so that no step holds more than a few times a 512-px
image whatever the file's pixels:

- JPEG decodes at 1/2, 1/4 or 1/8 size straight from its DCT (Pillow's draft mode);
- 8-bit PNG (the usual drawing, screenshot or a few KB that claim tens of megapixels) is
  inflated as a stream and decoded a strip of rows at a time, each strip reduced before the
  next is read;
- anything else is decoded whole, but only inside a shared budget of bytes
  (DECODE_BUDGET_MB), so that a crowd of large uploads waits its turn instead of taking the
  server's memory.

A file claiming more than MAX_PIXELS is refused from its header, before any decoding.
"""
from __future__ import annotations

import io
import os
import struct
import threading
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

WORK_SIDE = 512  # an image whose longer side is 2 * WORK_SIDE or more is reduced by an integer factor
# Refuse images with more pixels than this before decoding them (decompression bombs).
MAX_PIXELS = int(os.environ.get("SIAMESE_MAX_PIXELS", 40_000_000))
# Bytes that whole-image decodes (formats without a reduced or streamed decode) may hold at once.
DECODE_BUDGET = int(float(os.environ.get("SIAMESE_DECODE_BUDGET_MB", 256)) * 2**20)
STRIP_BYTES = 1 << 20  # about this many decoded bytes per PNG strip

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
_EXIF_ORIENTATION = 0x0112
_TRANSPOSE = {2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
              4: [Image.Transpose.FLIP_TOP_BOTTOM], 5: [Image.Transpose.TRANSPOSE],
              6: [Image.Transpose.ROTATE_270], 7: [Image.Transpose.TRANSVERSE],
              8: [Image.Transpose.ROTATE_90]}


class ImageError(ValueError):
    """The input cannot be turned into a digit image; the message says why, for people."""


class BlankImageError(ImageError):
    """The image holds no visible digit (empty canvas, uniform colour, too faint)."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than MAX_PIXELS."""


def reduction(width: int, height: int) -> int:
    """The integer factor an image of this size is reduced by (1: none)."""
    return max(1, max(width, height) // WORK_SIDE)


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(f"image is {width}x{height} pixels; the limit is {MAX_PIXELS:,} pixels")


# -- a shared budget for whole-image decodes ------------------------------------------------------
class _Budget:
    """Bytes that whole-image decodes may hold at once; a decode that does not fit waits."""

    def __init__(self, total: int):
        self.total, self.used = total, 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, nbytes: int):
        nbytes = min(nbytes, self.total)  # one image alone may use it all (MAX_PIXELS bounds it)
        with self._cond:
            self._cond.wait_for(lambda: self.used + nbytes <= self.total)
            self.used += nbytes
        try:
            yield
        finally:
            with self._cond:
                self.used -= nbytes
                self._cond.notify_all()


_budget = _Budget(DECODE_BUDGET)


# -- opening ---------------------------------------------------------------------------------------
def open_image(source) -> Image.Image:
    """Open a path or bytes as a PIL image, reading only its header: unreadable files raise
    ImageError and more than MAX_PIXELS ImageTooLargeError, before any pixel is decoded."""
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            img = Image.open(io.BytesIO(bytes(source)))
        else:
            img = Image.open(Path(source))
        _check_pixels(*img.size)
        img.seek(0)  # first frame of an animation
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageTooLargeError(f"image is too large to open safely ({e})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
        raise ImageError(f"not a readable image file ({type(e).__name__}: {e})") from None
    return img


def _decode_error(e: Exception) -> ImageError:
    return ImageError(f"not a readable image file ({type(e).__name__}: {e})")


# -- modes ------------------------------------------------------------------------------------------
def _rgba(img: Image.Image) -> Image.Image:
    """Any mode -> RGBA in C (transparency of P, LA and colour-keyed images kept); 16- and
    32-bit grey scaled to 8 bits first."""
    if img.mode == "RGBA":
        return img
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        a = np.asarray(img, dtype=np.float32)
        if img.mode.startswith("I;16"):
            hi = 65535.0
        else:  # 32-bit: 8-bit or 16-bit samples stored wide, or arbitrary numbers
            top = float(np.nanmax(a)) if a.size else 1.0
            hi = 255.0 if top <= 255 else (65535.0 if top <= 65535 else top)
        a = np.nan_to_num(a, nan=0.0, posinf=hi, neginf=0.0)
        img = Image.fromarray(np.clip(np.rint(a * (255.0 / hi)), 0, 255).astype(np.uint8), "L")
    try:
        return img.convert("RGBA")
    except (ValueError, OSError) as e:
        raise ImageError(f"unsupported image mode {img.mode!r} ({e})") from None


def _small_rgba(img: Image.Image, factor: int) -> Image.Image:
    """A decoded image (or strip) -> RGBA reduced by `factor` (premultiplied box average)."""
    img = _rgba(img)
    return img.reduce(factor) if factor > 1 else img


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1: as stored), read without decoding pixels: a PNG's getexif()
    decodes the whole image to look for an eXIf chunk after it (a 6000 x 6000 bomb: 144 MB), so
    a PNG's comes from the chunk read with its header, when it is there."""
    try:
        if img.format == "PNG":
            raw = img.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
        else:
            exif = img.getexif()
        return int(exif.get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not cost the picture
        return 1


# -- PNG a strip at a time -------------------------------------------------------------------------
def _png_chunks(data: bytes):
    """(type, payload) of each chunk; ImageError on a truncated file."""
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if pos + 12 + length > len(data):
            raise ImageError("not a readable image file (the PNG is truncated)")
        yield kind, data[pos + 8 : pos + 8 + length]
        if kind == b"IEND":
            return
        pos += 12 + length
    raise ImageError("not a readable image file (the PNG is truncated)")


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_strips(data: bytes, factor: int) -> Image.Image:
    """An 8-bit, non-interlaced PNG decoded a strip of rows at a time, each strip reduced by
    `factor` before the next: memory stays at one strip and the reduced image.

    Pillow decodes each strip from a small PNG made here: the header with the strip's height,
    the palette and transparency chunks, and as pixel data the previous strip's last row
    (unfiltered, so the strip's first row can be unfiltered against it) and the strip's rows
    as the file stores them (filtered), in a stored (uncompressed) zlib stream."""
    head, palette, inflater = None, [], zlib.decompressobj()
    for kind, payload in _png_chunks(data):
        if kind == b"IHDR":
            head = payload
        elif kind in (b"PLTE", b"tRNS"):
            palette.append(_chunk(kind, payload))
        elif kind == b"IDAT":
            break
    width, height, bits, colour = struct.unpack(">IIBB", head[:10])
    stride = width * _PNG_CHANNELS[colour] + 1  # bytes per row, its filter byte included
    rows = max(factor, STRIP_BYTES // stride // factor * factor)  # whole reduction blocks per strip
    out, previous, pending, done = [], None, b"", 0

    def decode(raw: bytes, n: int) -> None:
        nonlocal previous
        if previous is not None:
            raw, n = b"\x00" + previous + raw, n + 1
        ihdr = struct.pack(">IIBBBBB", width, n, bits, colour, 0, 0, 0)
        png = (_PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + b"".join(palette)
               + _chunk(b"IDAT", zlib.compress(raw, 0)) + _chunk(b"IEND", b""))
        strip = Image.open(io.BytesIO(png))
        strip.load()
        if previous is not None:
            strip = strip.crop((0, 1, width, n))
        previous = strip.crop((0, strip.height - 1, width, strip.height)).tobytes()
        out.append(_small_rgba(strip, factor))

    try:
        for kind, payload in _png_chunks(data):
            if kind != b"IDAT":
                continue
            # Inflate no more than a strip ahead (a few KB of IDAT can hold 100+ MB of pixels).
            while payload and done < height:
                want = min(rows, height - done) * stride
                pending += inflater.decompress(payload, max(1, want - len(pending)))
                payload = inflater.unconsumed_tail
                if len(pending) >= want:
                    decode(pending[:want], want // stride)
                    pending, done = pending[want:], done + want // stride
            # (inflated data beyond the last row is ignored, as decoders do)
        if done < height:
            n = len(pending) // stride
            if n < height - done:
                raise ImageError("not a readable image file (the PNG's pixel data is truncated)")
            decode(pending[: (height - done) * stride], height - done)
    except ImageError:
        raise
    except (zlib.error, OSError, SyntaxError, ValueError, EOFError) as e:
        raise _decode_error(e) from None
    if len(out) == 1:
        return out[0]
    full = Image.new("RGBA", (out[0].width, sum(s.height for s in out)))
    y = 0
    for s in out:
        full.paste(s, (0, y))
        y += s.height
    return full


def _png_header(data: bytes) -> tuple[int, int, int, int] | None:
    """(width, height, bit depth, interlace) of a PNG, or None when `data` is not one."""
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 33:
        return None
    width, height, bits, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if colour not in _PNG_CHANNELS:
        return None
    return width, height, bits, interlace


# -- decoding ---------------------------------------------------------------------------------------
def _decode(img: Image.Image, data: bytes | None) -> Image.Image:
    """An opened (not yet decoded) image -> RGBA, reduced while it is decoded where the format
    allows, else inside the shared budget."""
    width, height = img.size
    factor = reduction(width, height)
    try:
        if factor > 1 and img.format == "JPEG":
            # DCT scaling: the decoder itself makes the image 2, 4 or 8 times smaller, never
            # smaller than asked; the rest of the reduction is a box average as below.
            img.draft(img.mode if img.mode in ("L", "RGB") else "RGB", (width // factor, height // factor))
            img.load()
            return _small_rgba(img, reduction(*img.size))
        if factor > 1 and data is not None:
            head = _png_header(data)
            if head is not None and head[2] == 8 and head[3] == 0:
                return _png_strips(data, factor)
        bands = len(img.getbands()) if img.mode not in ("I", "F", "I;16", "I;16B", "I;16L", "I;16N") else 4
        with _budget.hold(width * height * (bands + 4)):  # the decoded image and its RGBA copy
            img.load()
            return _small_rgba(img, factor)
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageTooLargeError(f"image is too large to open safely ({e})") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as e:
        raise _decode_error(e) from None


def _read(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except (OSError, ValueError) as e:
        raise ImageError(f"not a readable image file ({type(e).__name__}: {e})") from None


def _file_rgba(source) -> Image.Image:
    data = _read(source)
    img = open_image(data)
    turn = _orientation(img)
    out = _decode(img, data)
    for op in _TRANSPOSE.get(turn, ()):
        out = out.transpose(op)
    return out


def _pil_rgba(img: Image.Image) -> Image.Image:
    _check_pixels(*img.size)
    try:
        img.seek(0)
    except (EOFError, AttributeError, ValueError):
        pass
    try:
        if img.mode in ("LA", "RGBA", "L", "RGB"):
            return _small_rgba(img, reduction(*img.size))
        # Palette, bilevel, CMYK, ...: colours first, then the average.
        return _small_rgba(_rgba(img), reduction(*img.size))
    except ImageError:
        raise
    except (OSError, ValueError) as e:
        raise _decode_error(e) from None


# -- arrays -----------------------------------------------------------------------------------------
def _array_rgba(image) -> np.ndarray:
    """numpy array or torch tensor (H x W, H x W x 1-4, or C x H x W; uint8, uint16, bool or
    float in [0, 1] or 0-255) -> uint8 (H, W, 4)."""
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
    _check_pixels(a.shape[1], a.shape[0])
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.integer):
        if a.dtype != np.uint8:  # 16-bit samples when any exceeds 255, else 8-bit ones stored wide
            scale = 255.0 / 65535.0 if int(a.max(initial=0)) > 255 else 1.0
            a = np.rint(np.clip(a.astype(np.float32) * scale, 0, 255)).astype(np.uint8)
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # float64 beyond float32: inf, refused below
            a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise ImageError("image contains NaN or infinite values")
        if a.max(initial=0) > 1.0:  # floats on a 0-255 scale
            a = a / 255.0
        a = np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
    channels = a.shape[-1]
    if channels == 1:
        a = np.concatenate([a, a, a, np.full_like(a, 255)], axis=-1)
    elif channels == 2:  # grey + alpha
        a = np.concatenate([a[..., :1]] * 3 + [a[..., 1:]], axis=-1)
    elif channels == 3:
        a = np.concatenate([a, np.full_like(a[..., :1], 255)], axis=-1)
    factor = reduction(a.shape[1], a.shape[0])
    if factor > 1:
        return np.array(Image.fromarray(np.ascontiguousarray(a), "RGBA").reduce(factor))
    return np.ascontiguousarray(a)


def _pixels(img: Image.Image) -> np.ndarray:
    """An RGBA PIL image -> uint8 (H, W, 4), read-only: the image's own memory where Pillow can
    lend it (its Arrow export, single-block images: no copy; 1 ms saved on a 512-px image),
    else a copy."""
    try:
        import pyarrow as pa

        buf = pa.array(img).buffers()[-1]
        if buf is not None and buf.size == img.width * img.height * 4:
            return np.frombuffer(buf, np.uint8).reshape(img.height, img.width, 4)
    except Exception:  # no pyarrow, an older Pillow, an image in several blocks
        pass
    return np.array(img)


def load_rgba(image) -> np.ndarray:
    """A path, bytes, PIL image (any mode), numpy array or torch tensor -> uint8 (H, W, 4)
    straight RGBA, max(H, W) < 2 * WORK_SIDE (reduced by an integer factor, averaging boxes),
    possibly read-only. EXIF orientation is applied and an animation gives its first frame.
    Raises ImageError (ImageTooLargeError for more than MAX_PIXELS) with a message for people."""
    if isinstance(image, (str, Path, bytes, bytearray, memoryview)):
        out = _file_rgba(image)
    elif isinstance(image, Image.Image):
        out = _pil_rgba(image)
        if out is image:  # lent, not made here: a copy, so the caller's image stays its own
            return np.array(out)
    else:
        return _array_rgba(image)
    return _pixels(out)

