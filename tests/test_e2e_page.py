"""The page in headless Chromium: draw digits with the mouse, press Compare, read the verdict.

Chromium: $SIAMESE_CHROMIUM or /usr/bin/chromium. Missing, these tests skip locally and FAIL
under CI=true. Screenshots go to $SIAMESE_SCREENSHOTS (default: pytest's tmp dir).
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from demo.examples import example_pairs

from .browser import (ONE, SEVEN, draw, open_page, press_compare, record_verdicts, verdicts_seen, wait_brush,
                      wait_until, wait_verdict)
from .helpers import served_demo

pytestmark = pytest.mark.e2e


# -- tests -------------------------------------------------------------------------------------
def test_brush_is_selected_without_a_click(page):
    wait_brush(page, "a")
    wait_brush(page, "b")


def test_seven_and_seven_is_same(page, shots):
    draw(page, "a", SEVEN)
    draw(page, "b", SEVEN)
    assert press_compare(page) == "same"
    assert "same digit" in page.locator("#verdict").inner_text().lower()
    page.wait_for_selector("#view-a img")
    page.wait_for_selector("#plot [data-ready='1'] #pair-marker", state="attached")
    page.wait_for_selector("#neighbours-a figure")
    page.screenshot(path=str(shots / "same_7_7.png"), full_page=True)


def test_seven_and_one_is_different(page, shots):
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    assert press_compare(page) == "different"
    assert "different digits" in page.locator("#verdict").inner_text().lower()
    assert "are 1s" in page.locator("#neighbours-b").inner_text()
    page.screenshot(path=str(shots / "different_7_1.png"), full_page=True)


def test_every_stroke_updates_the_verdict(page):
    draw(page, "a", SEVEN)
    # The first card is a hint too; this one can only come from the stroke's compare.
    page.locator("#verdict").get_by_text("Now draw or upload digit B").wait_for()
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different"  # no button pressed


def test_an_older_comparison_never_lands_after_the_buttons_verdict(page, monkeypatch):
    """The race of the issue made certain: the comparison A's stroke starts (B still empty) is
    held on the server for 3 s; meanwhile B is drawn and Compare pressed. The button's verdict
    must stay on screen: the held comparison may finish, but never land after it."""
    from demo.compare import handlers

    real = handlers.side_image

    def held(*args):
        image = real(*args)
        if image is None:  # a side with nothing on it: B, while only A is drawn
            time.sleep(3)
        return image

    assert wait_verdict(page, ("hint",)) == "hint"  # the page's first comparison has landed
    monkeypatch.setattr(handlers, "side_image", held)
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    page.click("#compare-btn")
    record_verdicts(page)
    assert wait_verdict(page, ("different",), settle_ms=4500) == "different"
    seen = verdicts_seen(page)
    assert "different" in seen and seen[seen.index("different"):] == ["different"], seen


def test_clear_then_draw_again(page):
    draw(page, "a", SEVEN)
    draw(page, "b", SEVEN)
    assert wait_verdict(page) == "same"
    page.click("#clear-b")
    assert wait_verdict(page, ("hint",)) == "hint"
    draw(page, "b", ONE)  # the brush is selected again after the clear
    assert wait_verdict(page) == "different"
    page.click("#clear-b")  # a second clear empties the pad too (it once kept its strokes)
    assert wait_verdict(page, ("hint",)) == "hint"
    assert "digit B" in page.locator("#verdict").inner_text()


def test_compare_with_one_side_empty_says_so(page):
    draw(page, "a", SEVEN)
    page.click("#compare-btn")
    toast = page.locator(".toast-body").first
    toast.wait_for()
    assert "digit B" in toast.inner_text()
    draw(page, "b", SEVEN)  # the page keeps working
    assert press_compare(page) == "same"


def test_example_pair_loads_and_compares(page, shots):
    page.locator("#examples tbody tr").nth(1).click()  # a drawn 7 and a drawn 1
    assert wait_verdict(page) == "different"
    assert page.locator("#tab-upload-a-button").get_attribute("aria-selected") == "true"
    assert page.locator("#upload-a img").count() >= 1
    page.screenshot(path=str(shots / "example_7_1.png"), full_page=True)


def test_bad_upload_shows_a_message_and_the_page_recovers(page, tmp_path, shots):
    bad = tmp_path / "broken.png"
    bad.write_bytes(Path(example_pairs()[0][0]).read_bytes()[:200])  # a truncated PNG
    draw(page, "a", SEVEN)
    page.click("#tab-upload-b-button")
    page.set_input_files("#upload-b input[type=file]", str(bad))
    assert wait_verdict(page, ("error",)) == "error"
    assert "Digit B: not a readable image file" in page.locator("#verdict").inner_text()
    page.screenshot(path=str(shots / "bad_upload.png"), full_page=False)
    # A good 7 dropped straight over it. (Failed 1 run in 5 while every page load redid the
    # comparison with inputs read a moment earlier, which could land last.)
    page.set_input_files("#upload-b input[type=file]", example_pairs()[0][1])
    assert wait_verdict(page) == "same"
    page.click("#clear-b")
    assert wait_verdict(page, ("hint",)) == "hint"


def test_threshold_slider_moves_the_verdict(page):
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different"
    box = page.locator("#threshold input[type=number]")
    box.fill(box.evaluate("e => e.max"))
    box.press("Enter")
    assert wait_verdict(page, ("same",)) == "same"
    assert "called same" in page.locator("#plot").inner_text()


def test_without_mnist_the_page_says_so_in_one_line_and_still_compares(browser, comparator, tmp_path):
    with (served_demo(comparator=comparator, data_dir=tmp_path / "no_mnist", download=False) as demo,
          open_page(browser, demo.local_url) as pg):
        status = pg.locator("#data-status")
        status.get_by_text("MNIST is not available here").wait_for()
        assert status.inner_text().strip().count("\n") == 0
        draw(pg, "a", SEVEN)
        draw(pg, "b", ONE)
        assert press_compare(pg) == "different"
        assert "not available" in pg.locator("#plot").inner_text()


def test_screen_readers_hear_the_verdict_and_get_alt_text(page):
    draw(page, "a", SEVEN)
    draw(page, "b", SEVEN)
    assert wait_verdict(page) == "same"
    live = page.locator("#verdict [aria-live='polite']")
    assert live.get_attribute("role") == "status" and "same digit" in live.inner_text().lower()
    live.evaluate("e => { e.dataset.mark = 'kept'; }")
    page.click("#clear-b")
    assert wait_verdict(page, ("hint",)) == "hint"  # the clear has landed: a stroke now is kept
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different"
    # The same element now holds the new verdict: a region that stays is one that gets read out.
    assert "different digits" in page.locator("#verdict [data-mark='kept'][aria-live='polite']").inner_text().lower()
    for side in "ab":
        img = page.locator(f"#view-{side} img").first
        wait_until(page, lambda: img.get_attribute("alt"), f"alt text on view {side}")
        assert img.get_attribute("alt").startswith(f"Digit {side.upper()} as the network sees it")
    page.wait_for_selector("#neighbours-b figure")
    alts = page.locator("#neighbours-a img, #neighbours-b img").evaluate_all("imgs => imgs.map(i => i.alt)")
    assert alts and all(a.startswith("MNIST test digit ") for a in alts)
