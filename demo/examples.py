"""Example digits made by the project (never MNIST files): digits drawn as pen strokes and
digits rendered from fonts, some on coloured paper, dark boards, transparent or off-centre, to
show what the preprocessing copes with.

The PNGs are committed under demo/example_digits/; regenerate them with

    python -m demo.examples
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT_DIR = Path(__file__).resolve().parent / "example_digits"
SIDE = 256

# Pen strokes in a unit box (x right, y down); each stroke is a list of control points that a
# Catmull-Rom spline passes through, so a few points make a hand-like curve.
STROKES = {
    "1": [[(0.58, 0.1), (0.53, 0.5), (0.48, 0.9)]],
    "2": [[(0.22, 0.3), (0.42, 0.12), (0.7, 0.2), (0.68, 0.45), (0.22, 0.88)], [(0.22, 0.88), (0.82, 0.86)]],
    "4": [[(0.62, 0.92), (0.6, 0.5), (0.58, 0.1)], [(0.58, 0.1), (0.16, 0.62)], [(0.16, 0.62), (0.84, 0.6)]],
    "5": [[(0.74, 0.12), (0.32, 0.13)], [(0.32, 0.13), (0.28, 0.45)],
          [(0.28, 0.45), (0.55, 0.4), (0.74, 0.6), (0.6, 0.86), (0.24, 0.82)]],
    "6": [[(0.68, 0.1), (0.42, 0.3), (0.26, 0.62), (0.42, 0.88), (0.7, 0.74), (0.6, 0.52), (0.3, 0.62)]],
    "7": [[(0.2, 0.14), (0.82, 0.14)], [(0.82, 0.14), (0.6, 0.5), (0.44, 0.9)]],
    "9": [[(0.7, 0.3), (0.5, 0.12), (0.3, 0.28), (0.42, 0.48), (0.7, 0.34)],
          [(0.7, 0.3), (0.66, 0.6), (0.6, 0.9)]],
}

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation",
             "/usr/share/fonts/TTF", "/Library/Fonts", "C:/Windows/Fonts")

# (file name, how it is made, digit)
PAIRS = [
    (("7_drawn.png", "stroke", "7"), ("7_dejavu_sans.png", "font:DejaVuSans.ttf", "7")),
    (("7_drawn.png", "stroke", "7"), ("1_drawn.png", "stroke", "1")),
    (("4_drawn.png", "stroke", "4"), ("9_drawn.png", "stroke", "9")),
    (("2_drawn_transparent.png", "stroke:transparent", "2"), ("2_liberation_serif.png", "font:LiberationSerif-Regular.ttf", "2")),
    (("3_blue_on_yellow.png", "font:DejaVuSerif.ttf:paper", "3"), ("8_dejavu_mono.png", "font:DejaVuSansMono.ttf", "8")),
    (("0_chalk_on_board.png", "font:DejaVuSans.ttf:board", "0"), ("6_drawn.png", "stroke", "6")),
    (("5_small_off_centre.png", "stroke:offcentre", "5"), ("5_dejavu_bold.png", "font:DejaVuSans-Bold.ttf", "5")),
]


def spline(points, per_segment: int = 16):
    """Catmull-Rom through the control points -> a dense polyline."""
    if len(points) < 3:
        return points
    p = [points[0]] + list(points) + [points[-1]]
    out = []
    for i in range(1, len(p) - 2):
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = p[i - 1], p[i], p[i + 1], p[i + 2]
        for s in range(per_segment):
            t = s / per_segment
            t2, t3 = t * t, t * t * t
            out.append((
                0.5 * (2 * x1 + (-x0 + x2) * t + (2 * x0 - 5 * x1 + 4 * x2 - x3) * t2 + (-x0 + 3 * x1 - 3 * x2 + x3) * t3),
                0.5 * (2 * y1 + (-y0 + y2) * t + (2 * y0 - 5 * y1 + 4 * y2 - y3) * t2 + (-y0 + 3 * y1 - 3 * y2 + y3) * t3),
            ))
    out.append(points[-1])
    return out


def draw_strokes(digit: str, size: tuple[int, int] = (SIDE, SIDE), box=None, width: int = 20,
                 ink=(20, 20, 20, 255), paper=(255, 255, 255, 255)) -> Image.Image:
    """A digit drawn with a round pen: `box` = (left, top, side) in pixels, default a centred
    square filling most of the image."""
    return draw_pen([spline(stroke) for stroke in STROKES[digit]], size, box, width, ink, paper)


def draw_pen(strokes, size: tuple[int, int] = (SIDE, SIDE), box=None, width: float = 20,
             ink=(20, 20, 20, 255), paper=(255, 255, 255, 255)) -> Image.Image:
    """Polylines in a unit box (x right, y down; `spline` makes curves of control points) drawn
    with a round pen of `width` px: `box` = (left, top, side) in pixels, default a centred
    square filling most of the image."""
    img = Image.new("RGBA", size, paper)
    d = ImageDraw.Draw(img)
    if box is None:
        side = int(min(size) * 0.8)
        box = ((size[0] - side) // 2, (size[1] - side) // 2, side)
    left, top, side = box
    r = width / 2
    for stroke in strokes:
        pts = [(left + x * side, top + y * side) for x, y in stroke]
        # Segment by segment with a round dab at every vertex: PIL's joined wide polylines
        # leave hairline gaps on tight curves.
        for p0, p1 in zip(pts, pts[1:]):
            d.line([p0, p1], fill=ink, width=round(width))
        for x, y in pts:
            d.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    return img


def _font(name: str, size: int):
    for folder in FONT_DIRS:
        path = Path(folder) / name
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)  # Pillow >= 10.1 bundles a scalable font


def draw_font(digit: str, font: str, ink=(0, 0, 0, 255), paper=(255, 255, 255, 255)) -> Image.Image:
    img = Image.new("RGBA", (SIDE, SIDE), paper)
    d = ImageDraw.Draw(img)
    d.text((SIDE / 2, SIDE / 2), digit, font=_font(font, int(SIDE * 0.7)), fill=ink, anchor="mm")
    return img


def make(how: str, digit: str) -> Image.Image:
    kind, _, rest = how.partition(":")
    if kind == "stroke":
        if rest == "transparent":  # dark ink on a fully transparent sheet
            return draw_strokes(digit, paper=(255, 255, 255, 0), ink=(30, 30, 90, 255))
        if rest == "offcentre":  # a small digit in the corner of a wide photo-like frame
            return draw_strokes(digit, size=(640, 360), box=(420, 40, 110), width=9,
                                ink=(40, 40, 40, 255), paper=(236, 236, 228, 255))
        return draw_strokes(digit)
    name, _, style = rest.partition(":")
    if style == "paper":
        return draw_font(digit, name, ink=(30, 60, 170, 255), paper=(250, 236, 160, 255))
    if style == "board":
        return draw_font(digit, name, ink=(235, 235, 225, 255), paper=(38, 58, 48, 255))
    return draw_font(digit, name)


def example_pairs(out_dir: Path = OUT_DIR) -> list[list[str]]:
    """The example pairs as [[path_a, path_b], ...] (files must exist: run this module)."""
    return [[str(out_dir / a[0]), str(out_dir / b[0])] for a, b in PAIRS]


def main() -> None:
    OUT_DIR.mkdir(exist_ok=True)
    done = set()
    for pair in PAIRS:
        for name, how, digit in pair:
            if name not in done:
                make(how, digit).save(OUT_DIR / name, optimize=True)
                done.add(name)
    print(f"wrote {len(done)} images to {OUT_DIR}")


if __name__ == "__main__":
    main()
