"""The Your symbols tab in headless Chromium: symbols drawn with the mouse and named, a new one
ranked among them, the digit model switched on; on a phone, the example symbols and a drawn
query. Screenshots go to $SIAMESE_SCREENSHOTS (default: pytest's tmp dir)."""
from __future__ import annotations

import math

import pytest

from .browser import PHONE, draw, open_page, open_tab, touch_draw, wait_until

pytestmark = pytest.mark.e2e

# Strokes as fractions of the pad from its centre (x right, y down), like browser.SEVEN.
STAR = [[(0.0, -0.36), (0.21, 0.3), (-0.34, -0.11), (0.34, -0.11), (-0.21, 0.3), (0.0, -0.36)]]
RING = [[(0.3 * math.cos(k * math.pi / 8), 0.3 * math.sin(k * math.pi / 8)) for k in range(17)]]
ZIGZAG = [[(0.14, -0.36), (-0.14, 0.0), (0.14, 0.0), (-0.14, 0.36)]]
ZIGZAG_AGAIN = [[(0.18, -0.3), (-0.1, 0.04), (0.16, 0.02), (-0.12, 0.32)]]  # another hand's


def open_symbols(pg):
    open_tab(pg, "symbols", "Your symbols")
    pg.wait_for_selector("#sketch-symbol canvas")
    pg.wait_for_selector("#sketch-symquery canvas")


def note(pg) -> str:
    return pg.locator("#symbol-note").inner_text()


def add(pg, name: str, strokes=None):
    if strokes:
        draw(pg, "symbol", strokes)
    pg.fill("#symbol-name textarea, #symbol-name input", name)
    pg.click("#symbol-add")


def best(pg, model: str = "symbols") -> str:
    card = pg.locator(f"#symbols-result .sym-result[data-model='{model}']")
    return wait_until(pg, lambda: card.count() and card.first.get_attribute("data-best"), f"a ranking by the {model} model")


def test_three_drawn_symbols_and_a_new_one_ranked_by_either_model(page, shots):
    open_symbols(page)
    for name, strokes in (("star", STAR), ("ring", RING), ("zigzag", ZIGZAG)):
        add(page, name, strokes)
        wait_until(page, lambda n=name: page.locator(f"#symbols-list figure[data-name='{n}']").count(), f"{name} listed")
    assert page.locator("#symbols-list figure").count() == 3
    assert "Now draw a new symbol" in page.locator("#symbols-result").inner_text()
    # Each Add emptied the pad: adding again with nothing drawn says so.
    add(page, "again")
    wait_until(page, lambda: "Draw the symbol on the left pad first" in note(page), "the empty pad's message")
    add(page, "Star", STAR)
    wait_until(page, lambda: "There is already a symbol named \u201cstar\u201d" in note(page), "the duplicate's message")
    page.click("#symbol-clear")  # in the browser

    draw(page, "symquery", ZIGZAG_AGAIN)
    assert best(page) == "zigzag"
    result = page.locator("#symbols-result").inner_text()
    assert "Best match: zigzag" in result and "sure" in result and "How sure" in result
    # the map comes from the server after the stroke: three symbols and the new drawing
    wait_until(page, lambda: page.locator("#symbols-map svg .sym-pt").count() == 4, "the map with the new drawing")
    page.screenshot(path=str(shots / "symbols_desktop.png"), full_page=True)

    page.locator("#symbols-model label", has_text="Digit model").click()
    best(page, "digits")  # ranked in the browser; the note on the models follows from the server
    wait_until(page, lambda: page.locator("#symbols-models .sym-model.on").get_attribute("data-model") == "digits",
               "the note on the digit model")
    assert "not how to compare any two drawings" in page.locator("#symbols-models").inner_text()
    page.screenshot(path=str(shots / "symbols_desktop_digits.png"), full_page=True)


def test_on_a_phone_the_examples_and_a_drawn_query(browser, server, shots):
    with open_page(browser, server, PHONE) as pg:
        pg.wait_for_selector("#sketch-a canvas")
        open_symbols(pg)
        pg.click("#symbols-examples")
        wait_until(pg, lambda: pg.locator("#symbols-list figure").count() == 5, "the five examples")
        assert touch_draw(pg, "symquery", STAR) < 2  # a finger draws; the page does not scroll
        assert best(pg) == "star"
        # the two pads side by side, each at least 40 % of the screen's width
        a, b = (pg.locator(f"#sketch-{s}").bounding_box() for s in ("symbol", "symquery"))
        assert abs(a["y"] - b["y"]) < 4 and min(a["width"], b["width"]) > 0.4 * 390
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        pg.screenshot(path=str(shots / "symbols_phone.png"), full_page=True)
