"""Digits as a hand draws them with a mouse: strokes of points in pad fractions from the pad's
centre (x right, y down; the pad is 1 x 1), for the browser measurements and tests. Each was
checked against the shipped model: every pair of two drawings (one moved and shrunk) of the same
digit is "same", every pair of different digits "different" (demo/measure/pairs.py).
"""
from __future__ import annotations

import math

Stroke = list[tuple[float, float]]

DIGITS: dict[str, list[Stroke]] = {
    "0": [[(0.17 * math.sin(2 * math.pi * i / 14), -0.3 * math.cos(2 * math.pi * i / 14)) for i in range(15)]],
    "1": [[(0.02, -0.3), (-0.02, 0.3)]],
    "2": [[(-0.17, -0.17), (-0.1, -0.27), (0.05, -0.3), (0.16, -0.22), (0.16, -0.1), (0.05, 0.05),
           (-0.18, 0.3), (0.2, 0.3)]],
    "3": [[(-0.16, -0.25), (0.0, -0.3), (0.15, -0.22), (0.12, -0.08), (-0.02, 0.0), (0.14, 0.08),
           (0.16, 0.22), (0.02, 0.3), (-0.17, 0.25)]],
    "4": [[(-0.1, -0.3), (-0.18, 0.05), (0.18, 0.05)], [(0.1, -0.3), (0.1, 0.3)]],
    "5": [[(0.16, -0.3), (-0.12, -0.3), (-0.15, -0.03), (0.05, -0.06), (0.17, 0.05), (0.16, 0.22),
           (0.02, 0.3), (-0.16, 0.25)]],
    "6": [[(0.12, -0.3), (-0.05, -0.15), (-0.16, 0.08), (-0.12, 0.26), (0.02, 0.3), (0.15, 0.2),
           (0.12, 0.05), (-0.02, 0.0), (-0.15, 0.1)]],
    "7": [[(-0.22, -0.25), (0.22, -0.25), (0.0, 0.3)]],
    "8": [[(0.0, -0.3), (0.14, -0.22), (0.1, -0.08), (0.0, 0.0), (-0.14, 0.12), (-0.1, 0.26), (0.0, 0.3),
           (0.12, 0.25), (0.14, 0.12), (0.0, 0.0), (-0.1, -0.08), (-0.14, -0.22), (0.0, -0.3)]],
    "9": [[(0.14, -0.2), (0.0, -0.3), (-0.14, -0.2), (-0.12, -0.07), (0.0, -0.03), (0.14, -0.12),
           (0.14, -0.2), (0.12, 0.3)]],
}


def transform(strokes: list[Stroke], scale: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> list[Stroke]:
    """The same digit drawn bigger or smaller (about the pad's centre) and elsewhere."""
    return [[(x * scale + shift[0], y * scale + shift[1]) for x, y in s] for s in strokes]


def at_edge(strokes: list[Stroke], scale: float = 1.5) -> list[Stroke]:
    """The digit drawn big, its first stroke begun at the pad's nearest left or right edge (a
    child's 7 that starts off the paper); points past the other edges stay on the paper."""
    big = transform(strokes, scale)
    x0 = big[0][0][0]
    dx = (-0.49 - x0) if x0 < 0 else (0.49 - x0)
    return [[(min(0.49, max(-0.49, x + dx)), min(0.49, max(-0.49, y))) for x, y in s] for s in big]
