"""The Compare tab in headless Chromium: draw digits with the mouse, read the verdict the page
computes in the browser, upload files, move the threshold, lose the server.

Chromium: $SIAMESE_CHROMIUM or /usr/bin/chromium. Missing, these tests skip locally and FAIL
under CI=true. Screenshots go to $SIAMESE_SCREENSHOTS (default: pytest's tmp dir).
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from demo.examples import example_pairs

from .browser import (ONE, SEVEN, draw, open_page, press_compare, record_verdicts, verdict, verdicts_seen,
                      wait_until, wait_verdict)
from .helpers import served_demo

pytestmark = pytest.mark.e2e


def path_of(pg) -> str:
    """Which path gave the verdict on screen: "browser" or "server"."""
    return pg.locator("#verdict .verdict-card").first.get_attribute("data-path") or ""


def browser_ready(pg) -> None:
    """Until the network runs in this page (its model fetched and loaded)."""
    wait_until(pg, lambda: "runs in your browser" in pg.inner_text("#engine-note"), "the network in the browser")


# -- tests -------------------------------------------------------------------------------------
def test_seven_and_seven_is_same_computed_in_the_browser(page, shots):
    browser_ready(page)
    draw(page, "a", SEVEN)  # no tool to choose first: the pad draws at once
    draw(page, "b", SEVEN)
    assert wait_verdict(page) == "same"
    card = page.locator("#verdict").inner_text()
    assert "same digit" in card.lower() and "Judged by the shipped digit model, in your browser" in card
    assert path_of(page) == "browser"
    page.wait_for_selector("#plot svg #pair-marker", state="attached")
    page.wait_for_selector("#neighbours-a figure")
    for side in "ab":  # what the network saw: ink in its 28x28 view
        ink = page.locator(f"#view-{side} canvas").evaluate(
            "c => c.getContext('2d').getImageData(0, 0, 28, 28).data.filter((v, i) => i % 4 === 0 && v > 128).length")
        assert 20 < ink < 400, (side, ink)
    page.screenshot(path=str(shots / "same_7_7.png"), full_page=True)


def test_seven_and_one_is_different_and_the_neighbours_agree(page, shots):
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different"
    assert "different digits" in page.locator("#verdict").inner_text().lower()
    wait_until(page, lambda: "are 1s" in page.locator("#neighbours-b").inner_text(), "B's neighbours")
    wait_until(page, lambda: "B like a" in page.locator("#verdict").inner_text(), "the neighbours' guesses")
    page.screenshot(path=str(shots / "different_7_1.png"), full_page=True)


def test_every_stroke_updates_the_verdict_without_a_button(page):
    draw(page, "a", SEVEN)
    page.locator("#verdict").get_by_text("Now draw or upload digit B").wait_for()
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different"  # no button pressed


def test_the_verdict_needs_no_server_once_the_page_has_the_network(page):
    """Every request to the server refused after load: the pads still get their verdict."""
    browser_ready(page)
    refused = []

    def refuse(route):
        refused.append(route.request.url)
        route.abort()

    page.route("**/gradio_api/**", refuse)
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different" and path_of(page) == "browser"
    page.click("#clear-b")
    draw(page, "b", SEVEN)
    assert wait_verdict(page) == "same"
    wait_until(page, lambda: refused, "the board's look to be refused")  # it did try, and it did not matter


def test_an_old_answer_never_replaces_a_newer_drawings_neighbours(page, monkeypatch):
    """The server holds its first answer 3 s; meanwhile B is redrawn. B's neighbours may only
    ever be the new drawing's: the held answer, for the old B, is never shown."""
    from demo.compare import handlers

    real, calls = handlers.look, []

    def held(*args, **kwargs):
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(3)
        return real(*args, **kwargs)

    browser_ready(page)
    monkeypatch.setattr(handlers, "look", held)
    draw(page, "a", SEVEN)
    draw(page, "b", SEVEN)
    wait_until(page, lambda: calls, "the first look")
    page.click("#clear-b")
    draw(page, "b", ONE)
    page.evaluate("""() => {
      window.__nn = [];
      const note = () => window.__nn.push(document.querySelector('#neighbours-b').innerText);
      note();
      new MutationObserver(note).observe(document.querySelector('#neighbours-b'), {subtree: true, childList: true, characterData: true});
    }""")
    wait_until(page, lambda: "are 1s" in page.locator("#neighbours-b").inner_text(), "B's new neighbours", timeout=30)
    page.wait_for_timeout(1500)
    seen = page.evaluate("window.__nn")
    assert not any("are 7s" in s for s in seen), seen
    assert wait_verdict(page) == "different"


def test_clear_then_draw_again(page):
    draw(page, "a", SEVEN)
    draw(page, "b", SEVEN)
    assert wait_verdict(page) == "same"
    page.click("#clear-b")
    assert wait_verdict(page, ("hint",)) == "hint"
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different"
    page.click("#clear-b")
    page.click("#clear-b")  # twice: still empty, still a hint
    assert wait_verdict(page, ("hint",)) == "hint"
    assert "digit B" in page.locator("#verdict").inner_text()


def test_compare_with_one_side_empty_says_so(page):
    draw(page, "a", SEVEN)
    page.click("#compare-btn")
    toast = page.locator(".board-toast")
    toast.wait_for()
    assert "digit B" in toast.inner_text()
    draw(page, "b", SEVEN)  # the page keeps working
    assert press_compare(page) == "same"


def test_example_pair_loads_and_compares(page, shots):
    page.locator("#examples .example").nth(1).click()  # a drawn 7 and a drawn 1
    assert wait_verdict(page) == "different"
    assert page.locator("#tab-upload-a-button").get_attribute("aria-selected") == "true"
    assert page.locator("#upload-a img.preview").get_attribute("src")
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
    page.set_input_files("#upload-b input[type=file]", example_pairs()[0][1])  # a good 7 over it
    assert wait_verdict(page) == "same"
    page.click("#clear-b")
    assert wait_verdict(page, ("hint",)) == "hint"


def test_a_bomb_upload_is_refused_from_its_header(page, tmp_path):
    from .helpers import png_bomb

    draw(page, "a", SEVEN)
    page.click("#tab-upload-b-button")
    page.set_input_files("#upload-b input[type=file]", str(png_bomb(tmp_path / "bomb.png")))
    assert wait_verdict(page, ("error",)) == "error"
    assert "7000x7000 pixels; the limit is" in page.locator("#verdict").inner_text()


def test_threshold_slider_moves_the_verdict(page):
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different"
    box = page.locator("#threshold input[type=number]")
    box.fill(box.evaluate("e => e.max"))
    box.press("Enter")
    assert wait_verdict(page, ("same",)) == "same"
    wait_until(page, lambda: "called same" in page.locator("#plot").inner_text(), "the plot's threshold")


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
        wait_until(pg, lambda: "not available" in pg.locator("#neighbours-b").inner_text(), "B's note")


def test_screen_readers_hear_the_verdict_and_get_alt_text(page):
    draw(page, "a", SEVEN)
    draw(page, "b", SEVEN)
    assert wait_verdict(page) == "same"
    live = page.locator("#verdict")
    assert live.get_attribute("role") == "status" and live.get_attribute("aria-live") == "polite"
    live.evaluate("e => { e.dataset.mark = 'kept'; }")
    page.click("#clear-b")
    assert wait_verdict(page, ("hint",)) == "hint"
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different"
    # The same element holds the new verdict: a region that stays is one that gets read out.
    assert "different digits" in page.locator("#verdict[data-mark='kept']").inner_text().lower()
    for side in "ab":
        label = page.locator(f"#view-{side} canvas").get_attribute("aria-label")
        assert label.startswith(f"Digit {side.upper()} as the network sees it")
    page.wait_for_selector("#neighbours-b figure")
    alts = page.locator("#neighbours-a img, #neighbours-b img").evaluate_all("imgs => imgs.map(i => i.alt)")
    assert alts and all(a.startswith("MNIST test digit ") for a in alts)


def test_the_verdict_never_falls_back_after_it_settles(page):
    """A hurried user: both digits drawn and Compare pressed at once; every card shown after
    the right verdict is the right verdict."""
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    record_verdicts(page)
    page.click("#compare-btn")
    assert wait_verdict(page, ("different",), settle_ms=2000) == "different"
    seen = verdicts_seen(page)
    assert seen[seen.index("different"):] == ["different"], seen
    assert verdict(page) == "different"
