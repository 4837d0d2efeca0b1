"""The page in headless Chromium: draw digits with the mouse, press Compare, read the verdict.

Chromium: $SIAMESE_CHROMIUM or /usr/bin/chromium. Missing, these tests skip locally and FAIL
under CI=true. Screenshots go to $SIAMESE_SCREENSHOTS (default: pytest's tmp dir).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

import pytest

from demo.examples import example_pairs

from .test_app_api import served_demo

pytestmark = pytest.mark.e2e
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_S = 40  # a loaded 2-core machine can take a while per event

# Strokes as fractions of the canvas's shown size, from its centre (x right, y down).
SEVEN = [[(-0.22, -0.25), (0.22, -0.25), (0.0, 0.3)]]
ONE = [[(0.02, -0.3), (-0.02, 0.3)]]


def _fail_or_skip(msg: str):
    if IN_CI:
        pytest.fail(msg + " (CI=true: browser tests must not be skipped)")
    pytest.skip(msg)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = os.environ.get("SIAMESE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        _fail_or_skip(f"Chromium not found at {path} (set SIAMESE_CHROMIUM)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _fail_or_skip("the playwright package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def url(comparator, data_root):
    with served_demo(comparator=comparator, data_dir=data_root) as demo:
        assert demo.models.wait(180)
        yield demo.local_url


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    d = Path(os.environ.get("SIAMESE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


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


@pytest.fixture
def page(browser, url):
    """A fresh page (a new Gradio session) with both digit pads ready."""
    with open_page(browser, url) as pg:
        pg.wait_for_selector("#sketch-a canvas")
        pg.wait_for_selector("#sketch-b canvas")
        yield pg


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


def test_clear_then_draw_again(page):
    draw(page, "a", SEVEN)
    draw(page, "b", SEVEN)
    assert wait_verdict(page) == "same"
    page.click("#clear-b")
    assert wait_verdict(page, ("hint",)) == "hint"
    draw(page, "b", ONE)  # the brush is selected again after the clear
    assert wait_verdict(page) == "different"


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
    page.set_input_files("#upload-b input[type=file]", example_pairs()[0][1])  # a good 7
    assert wait_verdict(page) == "same"


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
