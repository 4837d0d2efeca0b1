"""From the pen to the verdict, as a student sees it: headless Chromium draws on the page's pads
with the mouse and times the verdict card.

    .venv/bin/python -m demo.measure.stroke                 # six redrawn digits, a cold page
    .venv/bin/python -m demo.measure.stroke --redraws 20 --burners 2 --json

Starts `python app.py` on loopback (or uses --url) and waits until it is done starting (its MNIST
reference built, its CPU idle: a server that was up before the class), opens the page in a fresh
browser (nothing cached) and measures:

- cold page: from navigation to the first same/different verdict, the digits drawn as soon as
  the pads are there, and the bytes the page downloaded by then (the network's files included);
- per redrawn digit (digit B cleared and drawn again, a 7 or a 1 in turn against A's 7): from
  the last mouse-up to the card showing the right verdict (0 when it showed already while the
  pen moved), the requests the page sent to the server meanwhile (until a second after the
  verdict settled), and which path answered (browser or server).

`--burners N` keeps N processes spinning on the CPU beside the server and the browser.
"""
from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import sys
import time

from .digits import DIGITS
from .launch import print_report, served_app, wait_until_idle

SEVEN, ONE = DIGITS["7"], DIGITS["1"]
SETTLE_MS = 1000
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

WATCH_JS = """() => {
  window.__stroke = {ups: [], cards: []};
  document.addEventListener('pointerup', () => window.__stroke.ups.push(performance.now()), true);
  const note = () => {
    const c = document.querySelector('#verdict .verdict-card');
    window.__stroke.cards.push([performance.now(), c ? c.dataset.verdict : '', c ? (c.dataset.path || '') : '']);
  };
  note();
  new MutationObserver(note).observe(document.querySelector('#verdict'), {subtree: true, childList: true, attributes: true});
}"""


def burn(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def chromium() -> str:
    return os.environ.get("SIAMESE_CHROMIUM", "/usr/bin/chromium")


@contextlib.contextmanager
def page_url(url: str | None):
    """`url`, or `python app.py` served on loopback and done starting (its MNIST reference
    built, its CPU idle: a server that was up before the class)."""
    if url:
        yield url
        return
    with served_app() as (proc, served, log):
        wait_until_idle(proc, log)
        yield served


@contextlib.contextmanager
def burning(n: int):
    """n processes spinning on the CPU while the block runs."""
    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=burn, args=(stop,), daemon=True) for _ in range(n)]
    for b in burners:
        b.start()
    try:
        yield
    finally:
        stop.set()
        for b in burners:
            b.join(5)


def strokes_at(box: dict, strokes, steps: int = 5):
    cx, cy, s = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"])
    for stroke in strokes:
        pts = [stroke[0]]
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            pts += [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)]
        yield [(cx + x * s, cy + y * s) for x, y in pts]


def draw(pg, side: str, strokes) -> None:
    canvas = pg.locator(f"#sketch-{side} canvas")
    canvas.scroll_into_view_if_needed()
    for (x0, y0), *rest in strokes_at(canvas.bounding_box(), strokes):
        pg.mouse.move(x0, y0)
        pg.mouse.down()
        for x, y in rest:
            pg.mouse.move(x, y)
        pg.mouse.up()


def settled(pg, expected: str | None, since: float, timeout_s: float = 30.0) -> tuple[float, str, str]:
    """(ms from `since` (page clock) until the card last became `expected` (None: same or
    different, whichever it settles on) and stayed, its path, the verdict), waiting until it has
    stayed SETTLE_MS."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now, cards = pg.evaluate("[performance.now(), window.__stroke.cards]")
        last = cards[-1][1] if cards else ""
        if (last == expected or (expected is None and last in ("same", "different"))) \
                and now - cards[-1][0] >= SETTLE_MS:
            i = len(cards) - 1
            while i > 0 and cards[i - 1][1] == last:
                i -= 1
            return max(0.0, cards[i][0] - since), cards[-1][2], last
        pg.wait_for_timeout(50)
    raise SystemExit(f"the verdict never settled on {expected!r}: {pg.evaluate('window.__stroke.cards')[-5:]}")


def measure(url: str, redraws: int, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1360, "height": 1000})
            pg = context.new_page()
            pg.set_default_timeout(60_000)
            requests, downloaded = [], []
            pg.on("request", lambda r: requests.append((time.monotonic(), r.url)))
            pg.on("requestfinished", lambda r: downloaded.append(r.sizes()["responseBodySize"]))
            t0 = time.monotonic()
            pg.goto(url)
            pg.wait_for_selector("#sketch-b canvas")
            pg.evaluate(WATCH_JS)
            draw(pg, "a", SEVEN)
            draw(pg, "b", ONE)
            first_ms, first_path, _ = settled(pg, "different", 0)
            marks = pg.evaluate("""() => ({load: performance.timing.loadEventEnd - performance.timing.navigationStart,
                ready: document.querySelector('#compare-board').querySelector('.board') &&
                       document.querySelector('#compare-board .board').parentElement.siameseBoard?.state.readyAt})""")
            cold = {"first_verdict_s": round(first_ms / 1000, 2), "load_event_s": round(marks["load"] / 1000, 2),
                    "browser_ready_s": round((marks["ready"] or 0) / 1000, 2), "path": first_path,
                    "downloaded_mb": round(sum(downloaded) / 1e6, 2), "requests": len(requests)}
            # A server just started builds its MNIST reference for a few seconds, and the page
            # polls for it once a second meanwhile: the redraws are timed once the neighbours
            # have come, as on a server that was up before the class.
            pg.wait_for_function("document.querySelector('#compare-board .board').parentElement"
                                 ".siameseBoard?.sides.a.neighbours", timeout=120_000)
            quiet_until = time.monotonic() + 60
            while time.monotonic() < quiet_until and time.monotonic() - requests[-1][0] < 2.5:
                pg.wait_for_timeout(250)  # the last poll (a second apart) has come and gone
            rows = []
            for i in range(redraws):
                digit, expected = (SEVEN, "same") if i % 2 == 0 else (ONE, "different")
                pg.click("#clear-b")
                pg.wait_for_function("document.querySelector('#verdict .verdict-card')?.dataset.verdict === 'hint'")
                start = time.monotonic()
                draw(pg, "b", digit)
                last_up = pg.evaluate("Math.max(...window.__stroke.ups)")
                ms, path, _ = settled(pg, expected, last_up)
                sent = [u for t, u in requests if t >= start and "/gradio_api/" in u]
                rows.append({"ms": round(ms, 1), "requests": len(sent), "path": path,
                             "urls": [u.split("/gradio_api/", 1)[1] for u in sent]})
            return {"cold": cold, "redraws": rows}
        finally:
            browser.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo.measure.stroke", description=__doc__.split("\n\n")[0])
    p.add_argument("--redraws", type=int, default=6)
    p.add_argument("--burners", type=int, default=0, help="processes spinning on the CPU meanwhile")
    p.add_argument("--url", help="a page already served (default: start python app.py on loopback)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with burning(args.burners), page_url(args.url) as url:
        out = measure(url, args.redraws, chromium())
    ms = [r["ms"] for r in out["redraws"]]
    report = {
        "cold page, load event (s)": out["cold"]["load_event_s"],
        "cold page, network ready in the browser (s)": out["cold"]["browser_ready_s"],
        "cold page, first verdict (s)": out["cold"]["first_verdict_s"],
        "cold page, answered by": out["cold"]["path"],
        "cold page, downloaded (MB)": out["cold"]["downloaded_mb"],
        "mouse-up to right verdict, median (ms)": round(statistics.median(ms), 1),
        "mouse-up to right verdict, max (ms)": max(ms),
        "per redraw (ms)": ms,
        "requests per redrawn digit": [r["requests"] for r in out["redraws"]],
        "answered by": sorted({r["path"] for r in out["redraws"]}),
        "CPU burners": args.burners,
    }
    if args.json:
        report = {"cold": out["cold"], "redraws": out["redraws"], "burners": args.burners}
    print_report(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
