"""Does the verdict on screen always belong to the pads' digits? Pressed as a hurried user would,
with the CPU kept busy beside the server:

    .venv/bin/python scripts/press_order.py --presses 20 --burners 2

Starts `python app.py` on loopback (demo.measure.launch.served_app) and `--burners` processes
spinning on the CPU, opens the page in headless Chromium (/usr/bin/chromium, or
$SIAMESE_CHROMIUM), then repeats: draw A, draw B and press Compare at once; redraw A (so that the
pair changes) and press Compare at once. Every verdict the card shows after a press is recorded;
a press passes when the card settles on the verdict of the digits on the pads and never shows
anything else after it. Prints one line per press and a summary; exits 1 on any failure.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.measure.launch import served_app  # noqa: E402
from demo.measure.stroke import burning  # noqa: E402
from tests.browser import (CHROMIUM_ARGS, ONE, SEVEN, draw, record_verdicts, verdicts_seen,  # noqa: E402
                           wait_verdict)

WATCH_S = 3.0  # how long a settled verdict is watched for a late arrival


def clear(pg, side: str) -> None:
    pg.click(f"#clear-{side}")
    wait_verdict(pg, ("hint",), settle_ms=200)


def press(pg, expected: str) -> tuple[bool, list[str], float]:
    """Compare pressed now; (passed, verdicts seen, seconds to the settled verdict)."""
    t0 = time.monotonic()
    pg.click("#compare-btn")
    record_verdicts(pg)
    try:
        got = wait_verdict(pg, ("same", "different"), settle_ms=300)
    except AssertionError:
        return False, verdicts_seen(pg), time.monotonic() - t0
    took = time.monotonic() - t0
    pg.wait_for_timeout(WATCH_S * 1000)
    seen = verdicts_seen(pg)
    ok = got == expected and expected in seen and set(seen[seen.index(expected):]) == {expected}
    return ok, seen, took


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="scripts/press_order.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--presses", type=int, default=20)
    p.add_argument("--burners", type=int, default=2, help="processes spinning on the CPU meanwhile")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("SIAMESE_CHROMIUM", "/usr/bin/chromium")
    results = []
    with served_app() as (_, url, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        pg = browser.new_context(viewport={"width": 1360, "height": 1000}).new_page()
        pg.set_default_timeout(60_000)
        pg.goto(url)
        pg.wait_for_selector("#sketch-a canvas")
        try:
            with burning(args.burners):
                while len(results) < args.presses:
                    if len(results) % 2 == 0:  # a fresh pair: 7 and 1, pressed at once
                        clear(pg, "a")
                        clear(pg, "b")
                        draw(pg, "a", SEVEN)
                        draw(pg, "b", ONE)
                        expected = "different"
                    else:  # A redrawn as a 1, pressed at once
                        clear(pg, "a")
                        draw(pg, "a", ONE)
                        expected = "same"
                    ok, seen, took = press(pg, expected)
                    results.append(ok)
                    print(f"press {len(results):2d}: expected {expected:9s} {'ok  ' if ok else 'FAIL'} "
                          f"settled in {took:4.1f} s, seen {' -> '.join(seen)}", flush=True)
        finally:
            browser.close()
    print(f"{sum(results)} of {len(results)} presses settled on the pads' digits and stayed "
          f"({args.burners} CPU burners beside the server)")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
