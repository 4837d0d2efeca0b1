"""Driving the page in Chromium like a user: open a session (a desktop window or an emulated
phone or tablet), draw with the mouse or a finger, read the verdict, wait for something to
show. The browser itself is the `browser` fixture (conftest)."""
from __future__ import annotations

import contextlib
import time

from demo.measure.digits import DIGITS

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_S = 40  # a loaded 2-core machine can take a while per event

# Strokes as fractions of the pad's shown size, from its centre (x right, y down).
SEVEN, ONE = DIGITS["7"], DIGITS["1"]

# Emulated devices: CSS viewport, device pixel ratio, a touch screen (Playwright's device
# descriptors for an iPhone 12-class phone and an iPad Air-class tablet, in Chromium).
DESKTOP = dict(viewport={"width": 1360, "height": 1000})
PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True)
TABLET = dict(viewport={"width": 820, "height": 1180}, device_scale_factor=2, is_mobile=True, has_touch=True)
TABLET_LANDSCAPE = dict(TABLET, viewport={"width": 1180, "height": 820})


@contextlib.contextmanager
def open_page(browser, url: str, device: dict = DESKTOP):
    """A new browser context (a new Gradio session) emulating `device`, with `url` loaded;
    closed afterwards."""
    context = browser.new_context(**device)
    try:
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_S * 1000)
        pg.goto(url)
        yield pg
    finally:
        context.close()


# -- helpers -----------------------------------------------------------------------------------
def pad_box(pg, side: str) -> dict:
    """The pad's drawing canvas as shown (viewport CSS px), scrolled into view first as a user
    would."""
    pad = pg.locator(f"#sketch-{side} canvas")
    pad.scroll_into_view_if_needed()  # the mouse or a finger only reaches what is on screen
    return pad.bounding_box()


def stroke_points(box: dict, stroke, steps: int = 5) -> list[tuple[float, float]]:
    """A stroke in pad fractions -> viewport points, `steps` per segment."""
    cx, cy, s = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"])
    pts = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
        pts += [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)]
    return [(cx + x * s, cy + y * s) for x, y in pts]


def draw(pg, side: str, strokes):
    """Draw with the mouse."""
    box = pad_box(pg, side)
    for stroke in strokes:
        (x0, y0), *rest = stroke_points(box, stroke)
        pg.mouse.move(x0, y0)
        pg.mouse.down()
        for x, y in rest:
            pg.mouse.move(x, y)
        pg.mouse.up()


def touch_draw(pg, side: str, strokes) -> float:
    """Draw with one finger: real touch events (CDP Input.dispatchTouchEvent, as a touch screen
    sends them), not mouse events. Returns how far the page scrolled during the strokes (px)."""
    box = pad_box(pg, side)
    cdp = pg.context.new_cdp_session(pg)
    start = pg.evaluate("[scrollX, scrollY]")
    pg.evaluate("window.__moved = 0; window.__from = [scrollX, scrollY]; addEventListener('scroll', () => {"
                " window.__moved = Math.max(window.__moved, Math.hypot(scrollX - __from[0], scrollY - __from[1])); })")
    try:
        for stroke in strokes:
            # 4 points a segment: each touch event waits for a repaint, which at a phone's pixel
            # ratio costs headless software rendering a while. The pad joins the points by
            # straight lines all the same.
            (x0, y0), *rest = stroke_points(box, stroke, steps=4)
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]})
            for x, y in rest:
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        pg.wait_for_timeout(300)  # a scroll the gesture started would land by now
        end = pg.evaluate("[scrollX, scrollY]")
        return max(pg.evaluate("window.__moved"), abs(end[0] - start[0]) + abs(end[1] - start[1]))
    finally:
        cdp.detach()


def touch_swipe(pg, x: float, y: float, dy: float, fingers: int = 1) -> None:
    """Swipe up by `dy` px with `fingers` fingers side by side, starting at (x, y)."""
    cdp = pg.context.new_cdp_session(pg)
    try:
        def points(t):
            return [{"x": x + 40 * f, "y": y - dy * t, "id": f} for f in range(fingers)]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(0)})
        for i in range(1, 21):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(i / 20)})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        pg.wait_for_timeout(500)
    finally:
        cdp.detach()


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


def record_verdicts(pg) -> None:
    """From now on, note every verdict the card shows (read back by `verdicts_seen`)."""
    pg.evaluate("""() => {
      window.__verdicts = [];
      const note = () => {
        const card = document.querySelector('#verdict .verdict-card');
        const v = card ? card.dataset.verdict : '';
        if (window.__verdicts[window.__verdicts.length - 1] !== v) window.__verdicts.push(v);
      };
      note();
      new MutationObserver(note).observe(document.querySelector('#verdict'),
                                         {subtree: true, childList: true, attributes: true, characterData: true});
    }""")


def verdicts_seen(pg) -> list[str]:
    return pg.evaluate("window.__verdicts")


def press_compare(pg) -> str:
    pg.click("#compare-btn")
    pg.wait_for_timeout(300)
    return wait_verdict(pg)


def open_tab(pg, name: str, label: str | None = None) -> None:
    """Click the main tab `name` (elem_id tab-NAME). On a narrow screen Gradio keeps the last
    tabs under "More tabs", listed by their `label`: opened from there, as a user would."""
    button = pg.locator(f"#tab-{name}-button")
    if label is None or button.is_visible():
        button.click()
        return
    pg.click("#main-tabs button[aria-label='More tabs']")
    pg.locator("#main-tabs .overflow-dropdown button", has_text=label).first.click()


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
