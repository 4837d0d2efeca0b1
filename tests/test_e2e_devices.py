"""The page on a phone and a tablet, and strokes from the pad's edge (issue 13), in headless
Chromium with device emulation: viewport, device pixel ratio, a touch screen, fingers sending
real touch events. The model is the shipped checkpoint, the page the real served one.

Screenshots go to $SIAMESE_SCREENSHOTS (default: pytest's tmp dir).
"""
from __future__ import annotations

import pytest

from .browser import (
    DESKTOP, ONE, PHONE, SEVEN, TABLET, TABLET_LANDSCAPE, draw, open_page, open_tab, pad_box, touch_draw,
    touch_swipe, wait_verdict,
)

pytestmark = pytest.mark.e2e

# A 7 drawn a little differently from SEVEN (the same on both pads would be distance 0).
SEVEN_B = [[(-0.2, -0.22), (0.2, -0.27), (-0.04, 0.3)]]
# A 7 drawn too big: its stroke begins at the pad's very left edge, where Gradio's Sketchpad
# shows a grey margin round the paper and dropped any stroke starting on it.
EDGE_SEVEN = [[(-0.49, -0.3), (0.3, -0.3), (0.02, 0.34)]]
MIN_PAD_PX = 150  # a finger-drawn digit needs about this much (both pads side by side on a phone)


def ready(pg):
    pg.wait_for_selector("#sketch-a canvas")
    pg.wait_for_selector("#sketch-b canvas")
    return pg


def layout(pg) -> dict:
    """What a reader of the page cares about: horizontal overflow, the pads' and verdict's
    boxes in the viewport (CSS px)."""
    return pg.evaluate("""() => {
      const box = s => { const b = document.querySelector(s).getBoundingClientRect();
                         return {x: b.x, y: b.y, w: b.width, h: b.height}; };
      return {scroll_width: document.documentElement.scrollWidth, width: innerWidth, height: innerHeight,
              a: box('#sketch-a canvas'), b: box('#sketch-b canvas'), verdict: box('#verdict')};
    }""")


def check_layout(pg, where: str):
    """Both pads whole on screen at a usable size, no sideways scrolling, and (called right
    after the second digit) the verdict in view."""
    m = layout(pg)
    assert m["scroll_width"] <= m["width"], f"{where}: the page scrolls sideways ({m['scroll_width']} > {m['width']})"
    for side in "ab":
        pad = m[side]
        assert pad["w"] >= MIN_PAD_PX and abs(pad["w"] - pad["h"]) < 2, f"{where}: pad {side} is {pad}"
        assert 0 <= pad["x"] and pad["x"] + pad["w"] <= m["width"], f"{where}: pad {side} leaves the screen: {pad}"
    v = m["verdict"]
    assert 0 <= v["y"] and v["y"] + 60 <= m["height"], f"{where}: the verdict is out of view ({v}, {m['height']} high)"


def network_ink(pg, side: str) -> float:
    """Mean brightness (0..1) of what the network saw for `side`: its 28x28 input, as the page shows it."""
    return pg.locator(f"#view-{side} canvas").evaluate("""(c) => {
      const d = c.getContext('2d').getImageData(0, 0, 28, 28).data;
      let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i];
      return s / (d.length / 4) / 255;
    }""")


# -- a phone: touch drawing, the verdict in view ------------------------------------------------
def test_phone_touch_drawing_gets_the_verdict_and_the_page_stays_put(browser, server, shots):
    with open_page(browser, server, PHONE) as pg:
        ready(pg)
        assert touch_draw(pg, "a", SEVEN) == 0, "the page scrolled while a finger drew on pad A"
        assert touch_draw(pg, "b", SEVEN_B) == 0, "the page scrolled while a finger drew on pad B"
        assert wait_verdict(pg) == "same"  # no button: each stroke compares
        check_layout(pg, "phone 390x844")
        pg.screenshot(path=str(shots / "phone_390x844_same.png"))
        pg.click("#clear-b")
        assert wait_verdict(pg, ("hint",)) == "hint"
        assert touch_draw(pg, "b", ONE) == 0, "the page scrolled while a finger drew on pad B again"
        assert wait_verdict(pg) == "different"
        check_layout(pg, "phone 390x844, after a clear")
        pg.screenshot(path=str(shots / "phone_390x844_different.png"))


def test_phone_finger_outside_the_pads_still_scrolls(browser, server):
    """touch-action is off on the pads only: one or two fingers on the text scroll the page."""
    with open_page(browser, server, PHONE) as pg:
        ready(pg)
        head = pg.locator("#page-header").bounding_box()
        for fingers in (1, 2):
            pg.evaluate("scrollTo(0, 0)")
            touch_swipe(pg, 30, head["y"] + head["height"] - 10, dy=300, fingers=fingers)
            assert pg.evaluate("scrollY") > 50, f"a {fingers}-finger swipe on the header did not scroll"


def test_stroke_width_survives_a_small_pad(browser, server):
    """The same 7 on a phone's pad and on a desktop's (about twice as wide) reaches the network
    with about the same ink, also after a clear: the pen is sized in paper pixels (280 a side,
    demo.inputs.CANVAS), whatever the pad's size on screen."""
    ink = {}
    for name, device, drawer in (("phone", PHONE, touch_draw), ("desktop", DESKTOP, draw)):
        with open_page(browser, server, device) as pg:
            ready(pg)
            drawer(pg, "a", ONE)
            pg.click("#clear-a")  # the paper is made anew
            wait_verdict(pg, ("hint",))
            drawer(pg, "a", SEVEN)
            drawer(pg, "b", SEVEN_B)
            assert wait_verdict(pg) == "same"
            ink[name] = (pad_box(pg, "a")["width"], network_ink(pg, "a"))
    (phone_px, phone_ink), (desk_px, desk_ink) = ink["phone"], ink["desktop"]
    assert desk_px > 1.5 * phone_px, ink
    # MNIST digits average 0.13 (its normalisation mean); a 7 is a light digit.
    assert 0.05 < phone_ink < 0.25 and abs(phone_ink - desk_ink) < 0.25 * desk_ink, ink


# -- tablets ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("device, name", [(TABLET, "tablet_820x1180"), (TABLET_LANDSCAPE, "tablet_1180x820")],
                         ids=["portrait", "landscape"])
def test_tablet_touch_drawing_and_layout(browser, server, shots, device, name):
    with open_page(browser, server, device) as pg:
        ready(pg)
        assert touch_draw(pg, "a", SEVEN) == 0
        assert touch_draw(pg, "b", ONE) == 0
        assert wait_verdict(pg) == "different"
        check_layout(pg, name)
        pg.screenshot(path=str(shots / f"{name}.png"))
        pg.screenshot(path=str(shots / f"{name}_full.png"), full_page=True)


# -- the pad's edge, with a mouse -------------------------------------------------------------------
def test_mouse_stroke_begun_at_the_pads_edge_is_drawn(page, shots):
    draw(page, "a", EDGE_SEVEN)
    draw(page, "b", SEVEN)
    assert wait_verdict(page) == "same", "the stroke begun at the edge was lost (or cut)"
    page.locator("#compare-board").screenshot(path=str(shots / "desktop_edge_stroke.png"))
    page.click("#clear-b")
    assert wait_verdict(page, ("hint",)) == "hint"  # the clear has landed: a stroke now is kept
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different"


# -- the teaching tabs on a phone ----------------------------------------------------------------
TEACHING_TABS = {"embedding": "Embedding space", "oneshot": "One-shot", "threshold": "Threshold & errors",
                 "losses": "Losses"}
TAB_READY = {"embedding": "#emb-map svg.emb-svg", "oneshot": "#oneshot-accuracy .os-acc", "threshold": "#roc #roc-curve",
             "losses": "#tab-losses svg.toy-svg"}


def test_teaching_tabs_fit_a_phone(browser, server, shots):
    with open_page(browser, server, PHONE) as pg:
        ready(pg)
        for tab, label in TEACHING_TABS.items():
            open_tab(pg, tab, label)
            pg.locator(TAB_READY[tab]).first.wait_for()  # its views render after the tab opens
            width = pg.evaluate("[document.documentElement.scrollWidth, innerWidth]")
            assert width[0] <= width[1], f"{label}: the page scrolls sideways ({width})"
            pg.screenshot(path=str(shots / f"phone_tab_{tab}.png"), full_page=True)
