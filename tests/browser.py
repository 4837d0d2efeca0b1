"""Driving the page in Chromium like a user: open a session, draw with the mouse, read the
verdict, wait for something to show. The browser itself is the `browser` fixture (conftest)."""
from __future__ import annotations

import contextlib
import time

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_S = 40  # a loaded 2-core machine can take a while per event

# Strokes as fractions of the canvas's shown size, from its centre (x right, y down).
SEVEN = [[(-0.22, -0.25), (0.22, -0.25), (0.0, 0.3)]]
ONE = [[(0.02, -0.3), (-0.02, 0.3)]]


@contextlib.contextmanager
def open_page(browser, url: str):
    """A new browser context (a new Gradio session) with `url` loaded; closed afterwards."""
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    try:
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_S * 1000)
        pg.goto(url)
        yield pg
    finally:
        context.close()


# -- helpers -----------------------------------------------------------------------------------
def brush_selected(pg, side: str) -> bool:
    return pg.locator(f"#sketch-{side} .toolbar-wrap button").first.evaluate(
        "b => b.classList.contains('highlight')")


def wait_brush(pg, side: str):
    deadline = time.monotonic() + TIMEOUT_S
    while not brush_selected(pg, side):
        assert time.monotonic() < deadline, f"brush never selected on pad {side}"
        pg.wait_for_timeout(100)


def draw(pg, side: str, strokes):
    wait_brush(pg, side)
    canvas = pg.locator(f"#sketch-{side} canvas").first
    canvas.scroll_into_view_if_needed()  # the mouse only reaches what is on screen
    box = canvas.bounding_box()
    cx, cy, w, h = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"], box["height"]
    s = min(w, h)
    for stroke in strokes:
        (x0, y0), rest = stroke[0], stroke[1:]
        pg.mouse.move(cx + x0 * s, cy + y0 * s)
        pg.mouse.down()
        for x, y in rest:
            pg.mouse.move(cx + x * s, cy + y * s, steps=15)
        pg.mouse.up()


def verdict(pg) -> str:
    return pg.locator("#verdict .verdict-card").first.get_attribute("data-verdict") or ""


def wait_verdict(pg, allowed=("same", "different"), settle_ms: int = 600) -> str:
    """Wait until the verdict is one of `allowed` and stays so (events may still be landing)."""
    deadline = time.monotonic() + TIMEOUT_S
    last, since = None, time.monotonic()
    while True:
        v = verdict(pg)
        busy = "processing" in pg.locator("#verdict").inner_text()
        if v != last or busy:
            last, since = v, time.monotonic()
        elif v in allowed and (time.monotonic() - since) * 1000 >= settle_ms:
            return v
        assert time.monotonic() < deadline, f"verdict stuck at {v!r}: {pg.locator('#verdict').inner_text()!r}"
        pg.wait_for_timeout(100)


def press_compare(pg) -> str:
    pg.click("#compare-btn")
    pg.wait_for_timeout(300)
    return wait_verdict(pg)


def open_tab(pg, name: str) -> None:
    pg.click(f"#tab-{name}-button")


def wait_until(pg, check, what: str, timeout: float = TIMEOUT_S):
    """Poll `check()` until it returns something true (and return that), failing after
    `timeout` seconds with `what` in the message."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pg.wait_for_timeout(100)
