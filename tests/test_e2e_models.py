"""A model's lifetime on the page, in headless Chromium: a retrained model survives a reload of
its tab, and when it must leave the server the page says so, and banner, threshold slider and
verdict all move to the pretrained model together. Retraining is a recorded run replayed
(tests/replay.py): what is tested is the page, not the training."""
from __future__ import annotations

import pytest

from demo.banner import gone_note
from siamese.checkpoint import load_checkpoint

from .browser import ONE, SEVEN, draw, press_compare, wait_until
from .conftest import CHECKPOINT

pytestmark = pytest.mark.e2e


def retrain(pg) -> None:
    pg.click("#tab-retrain-button")
    pg.click("#retrain-start")
    pg.locator("#retrain-status").get_by_text("Done").wait_for()
    pg.click("#tab-compare-button")


def slider_value(pg) -> float:
    return float(pg.locator("#threshold input[type=number]").input_value())


def verdict_threshold(pg) -> float:
    """The threshold the verdict card says it judged by (its third number)."""
    return float(pg.locator("#verdict .verdict-nums b").nth(2).inner_text().replace("\u2212", "-"))


def near(threshold: float):
    """A model's threshold as the page shows it: on the slider's step, in three digits."""
    return pytest.approx(threshold, rel=0.01, abs=0.002)


def test_a_reload_keeps_the_retrained_model(page, page_server):
    retrain(page)
    banner = page.locator("#model-banner")
    banner.get_by_text("Using your retrained model").wait_for()
    mine = page_server.retrain.sessions
    page.reload()
    page.wait_for_selector("#sketch-a canvas")
    banner.get_by_text("Using your retrained model").wait_for()  # the browser kept its key
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    press_compare(page)
    key = [k for k in page_server.models.keys() if k in mine][-1]  # the latest: this page's
    assert verdict_threshold(page) == near(page_server.models.comparator(key).threshold)
    page.click("#tab-retrain-button")  # the reloaded tab owns it: its card, its download
    page.locator("#retrain-model [data-model='mine']").wait_for()


def test_a_model_that_leaves_the_server_is_said_and_replaced_everywhere(page, page_server):
    retrain(page)
    page.locator("#model-banner").get_by_text("Using your retrained model").wait_for()
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    assert press_compare(page) == "different"
    models, sessions = page_server.models, page_server.retrain.sessions
    retrained = [k for k in models.keys() if k in sessions][-1]  # the latest: this page's
    assert verdict_threshold(page) == near(models.comparator(retrained).threshold)
    assert abs(models.comparator(retrained).threshold - models.comparator(None).threshold) > 0.1

    # Eight other tabs retrain: the server keeps eight, and this one is the oldest.
    _, ckpt = load_checkpoint(CHECKPOINT)
    for other in range(sessions.cap):
        sessions.register(f"another tab {other}", ckpt)
    assert not models.alive(retrained)

    # The page holds the model's weights, so its verdict needs no server; the next look finds
    # the model gone, and the page says so and moves to the pretrained model.
    assert press_compare(page) == "different"
    shipped = models.comparator(None).threshold
    note = gone_note(None, models.gone(retrained).reason)
    banner = page.locator("#model-banner")
    banner.get_by_text("is no longer on this server").wait_for()
    assert "8 retrained models at most" in banner.inner_text() and note.split(":", 1)[1][:40] in banner.inner_text()
    wait_until(page, lambda: "the shipped digit model" in page.locator("#verdict").inner_text(), "the pretrained model's verdict")
    assert verdict_threshold(page) == near(shipped)
    wait_until(page, lambda: abs(slider_value(page) - shipped) < 0.01, "the slider on the pretrained threshold")
    page.click("#banner-dismiss")
    banner.wait_for(state="hidden")
    for other in range(sessions.cap):
        sessions.release(f"another tab {other}")
