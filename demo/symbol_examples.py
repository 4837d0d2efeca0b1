"""Hand-drawn symbols made by the project (neither Omniglot nor MNIST): ten symbols as pen
strokes, each drawn again and again with the small differences of a hand (control points
moved, another pen width, size, slant and place), at the pad's 280x280, black on white.

They are the test set of the "Your symbols" tab's one-shot ranking (scripts/symbols_handdrawn.py,
the figure the tab shows for each model) and its example symbols:

    draw_symbol("star", variation=3)        # a PIL image; variation 0 is the plain one
    variations("heart", 8)                  # eight of them
    python -m demo.symbol_examples out/     # write out/<variation>/<name>.png to look at
"""
from __future__ import annotations

import argparse
import math
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from .examples import draw_pen, spline
from .inputs import BRUSH_RADIUS, CANVAS

LINE, CURVE, LOOP = "line", "curve", "loop"  # straight segments; a spline; a closed spline


def _ring(cx: float, cy: float, rx: float, ry: float, n: int = 10, start: float = -90.0, end: float = 270.0):
    """Points on an ellipse from angle `start` to `end` (degrees, y down: -90 is the top)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(start, end, n)]


def _star():
    outer = [(0.5 + 0.42 * math.cos(math.radians(-90 + 72 * k)), 0.52 + 0.42 * math.sin(math.radians(-90 + 72 * k)))
             for k in range(5)]
    return [(LINE, [outer[k % 5] for k in (0, 2, 4, 1, 3, 0)])]  # one stroke, a pentagram


def _spiral():
    return [(CURVE, [(0.5 + 0.04 * t * math.cos(t), 0.5 + 0.04 * t * math.sin(t))
                     for t in np.linspace(0.6, 3.2 * math.pi, 14)])]


# Each symbol: strokes in a unit box (x right, y down), each (kind, control points).
SYMBOLS = {
    "star": _star(),
    "heart": [(CURVE, [(0.5, 0.3), (0.32, 0.13), (0.12, 0.24), (0.16, 0.52), (0.5, 0.88)]),
              (CURVE, [(0.5, 0.3), (0.68, 0.13), (0.88, 0.24), (0.84, 0.52), (0.5, 0.88)])],
    "arrow": [(LINE, [(0.1, 0.5), (0.88, 0.5)]), (LINE, [(0.6, 0.24), (0.88, 0.5), (0.6, 0.76)])],
    "spiral": _spiral(),
    "moon": [(CURVE, [(0.62, 0.1), (0.3, 0.18), (0.16, 0.5), (0.3, 0.82), (0.62, 0.9),
                      (0.44, 0.72), (0.38, 0.5), (0.44, 0.28), (0.62, 0.1)])],
    "house": [(LINE, [(0.2, 0.46), (0.2, 0.9), (0.8, 0.9), (0.8, 0.46)]),
              (LINE, [(0.1, 0.52), (0.5, 0.12), (0.9, 0.52)])],
    "smiley": [(LOOP, _ring(0.5, 0.5, 0.4, 0.4, 12)), (LINE, [(0.37, 0.36), (0.37, 0.42)]),
               (LINE, [(0.63, 0.36), (0.63, 0.42)]), (CURVE, [(0.3, 0.6), (0.5, 0.74), (0.7, 0.6)])],
    "lightning": [(LINE, [(0.62, 0.06), (0.3, 0.52), (0.6, 0.5), (0.36, 0.94)])],
    "cloud": [(CURVE, [(0.2, 0.72), (0.08, 0.6), (0.18, 0.46), (0.3, 0.44), (0.34, 0.3), (0.48, 0.24),
                       (0.6, 0.34), (0.72, 0.28), (0.84, 0.38), (0.82, 0.5), (0.92, 0.6), (0.82, 0.72),
                       (0.2, 0.72)])],
    "fish": [(CURVE, [(0.9, 0.5), (0.66, 0.3), (0.42, 0.34), (0.22, 0.62), (0.1, 0.72)]),
             (CURVE, [(0.9, 0.5), (0.66, 0.7), (0.42, 0.66), (0.22, 0.38), (0.1, 0.28)]),
             (LINE, [(0.1, 0.28), (0.1, 0.72)])],
}
NAMES = tuple(SYMBOLS)
PEN = 2 * BRUSH_RADIUS  # px: the pad's stroke width


def _polyline(kind: str, points) -> list[tuple[float, float]]:
    if kind == LINE:
        return list(points)
    if kind == LOOP:  # wrap the spline around: the closing join as smooth as the rest
        pts = list(points) + [points[0]]
        return spline([pts[-2], *pts, pts[1]])[16:-16]
    return spline(points)


def draw_symbol(name: str, variation: int = 0, size: int = CANVAS, seed: int = 0) -> Image.Image:
    """Symbol `name` as a hand would draw it on the pad, RGBA, black on white. Variation 0 is
    the plain symbol: centred, the pad's pen; every other one is drawn from (name, variation,
    seed): each control point moved by about 3 % of the symbol, then the whole scaled to 55-85 %
    of the pad (a little wider or narrower), turned by up to 12 degrees, moved by up to 10 %, and
    a pen 0.7-1.2 times the pad's."""
    strokes = SYMBOLS[name]
    if variation == 0:
        lines = [_polyline(kind, pts) for kind, pts in strokes]
        return draw_pen(lines, (size, size), box=_box(size, 0.75), width=PEN * size / CANVAS, ink=(0, 0, 0, 255))
    rng = np.random.default_rng([zlib.crc32(name.encode()), variation, seed])
    scale = rng.uniform(0.55, 0.85)
    aspect = math.exp(rng.uniform(-0.12, 0.12))
    turn = math.radians(rng.uniform(-12, 12))
    shift = rng.uniform(-0.1, 0.1, 2)
    cos, sin = math.cos(turn), math.sin(turn)

    def place(p):  # unit box -> unit box, around the centre
        x, y = (p[0] - 0.5) * aspect, (p[1] - 0.5) / aspect
        return (0.5 + scale * (cos * x - sin * y) + shift[0], 0.5 + scale * (sin * x + cos * y) + shift[1])

    lines = []
    for kind, pts in strokes:
        moved = [(x + dx, y + dy) for (x, y), (dx, dy) in zip(pts, rng.normal(0, 0.03, (len(pts), 2)))]
        lines.append([place(p) for p in _polyline(kind, moved)])
    width = PEN * rng.uniform(0.7, 1.2) * size / CANVAS
    return draw_pen(lines, (size, size), box=(0, 0, size), width=width, ink=(0, 0, 0, 255))


def _box(size: int, fill: float) -> tuple[int, int, int]:
    side = int(size * fill)
    return ((size - side) // 2, (size - side) // 2, side)


def variations(name: str, count: int, seed: int = 0) -> list[Image.Image]:
    """Variations 0..count-1 of `name` (0: the plain one)."""
    return [draw_symbol(name, k, seed=seed) for k in range(count)]


def write_set(folder: Path, count: int, names=NAMES, seed: int = 0) -> dict[str, list[Path]]:
    """Every variation of every symbol as folder/<variation>/<name>.png (the file's name is the
    symbol's, as /one_shot reads it) -> {name: [path of variation 0, 1, ...]}."""
    out: dict[str, list[Path]] = {}
    for k in range(count):
        (Path(folder) / str(k)).mkdir(parents=True, exist_ok=True)
        for name in names:
            path = Path(folder) / str(k) / f"{name}.png"
            draw_symbol(name, k, seed=seed).convert("RGB").save(path)
            out.setdefault(name, []).append(path)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m demo.symbol_examples", description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="folder to write <variation>/<name>.png into")
    p.add_argument("--variations", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    write_set(args.out, args.variations, seed=args.seed)
    print(f"wrote {args.variations} x {len(NAMES)} symbols to {args.out}")


if __name__ == "__main__":
    main()
