"""Do pairs drawn in the browser get the right verdict? Headless Chromium draws 24 pairs of
digits with the mouse (demo/measure/digits.py: 12 of the same digit, the second drawing moved
and shrunk, and 12 of different digits), then the same 24 with digit A drawn big, its first
stroke begun at the pad's edge:

    .venv/bin/python -m demo.measure.pairs            # [--url URL] [--burners N] [--json]

Starts `python app.py` on loopback unless --url is given. A pair is right when the verdict card
settles on its answer; prints each pair and the counts (issue 29: 24/24, and >= 23/24 at the edge).
"""
from __future__ import annotations

import argparse
import sys

from .digits import DIGITS, at_edge, transform
from .launch import print_report
from .stroke import CHROMIUM_ARGS, WATCH_JS, burning, chromium, draw, page_url, settled

SAME = list("0123456789") + ["7", "1"]
DIFFERENT = [("0", "6"), ("1", "7"), ("2", "3"), ("3", "5"), ("4", "9"), ("5", "6"), ("6", "8"),
             ("7", "9"), ("8", "9"), ("9", "4"), ("1", "4"), ("0", "8")]
PAIRS = [(d, d, "same") for d in SAME] + [(a, b, "different") for a, b in DIFFERENT]


def measure(url: str, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_context(viewport={"width": 1360, "height": 1000}).new_page()
            pg.set_default_timeout(60_000)
            pg.goto(url)
            pg.wait_for_selector("#sketch-b canvas")
            pg.evaluate(WATCH_JS)
            for name, big in (("drawn", False), ("big, begun at the edge", True)):
                rows = []
                for a, b, expected in PAIRS:
                    for side in "ab":
                        pg.click(f"#clear-{side}")
                    pg.wait_for_function("document.querySelector('#verdict .verdict-card')?.dataset.verdict === 'hint'")
                    draw(pg, "a", at_edge(DIGITS[a]) if big else DIGITS[a])
                    draw(pg, "b", transform(DIGITS[b], 0.85, (0.05, 0.03)))
                    last_up = pg.evaluate("Math.max(...window.__stroke.ups)")
                    _, _, got = settled(pg, None, last_up)
                    rows.append({"a": a, "b": b, "expected": expected, "verdict": got})
                out[name] = rows
        finally:
            browser.close()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo.measure.pairs", description=__doc__.split("\n\n")[0])
    p.add_argument("--burners", type=int, default=0, help="processes spinning on the CPU meanwhile")
    p.add_argument("--url", help="a page already served (default: start python app.py on loopback)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with burning(args.burners), page_url(args.url) as url:
        out = measure(url, chromium())
    report = {}
    for name, rows in out.items():
        right = sum(r["verdict"] == r["expected"] for r in rows)
        report[f"{name}: right"] = f"{right}/{len(rows)}"
        report[f"{name}: wrong"] = [f"{r['a']}-{r['b']} {r['verdict']}" for r in rows if r["verdict"] != r["expected"]]
    report["CPU burners"] = args.burners
    print_report({"pairs": out, **report} if args.json else report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
