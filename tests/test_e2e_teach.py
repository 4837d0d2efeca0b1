"""The teaching tabs in headless Chromium: each view opens and draws its plot, responds to the
learner (hover, drawing, slider, steps), with the shipped model and with another one.

Chromium missing: skip locally, FAIL under CI=true. Screenshots go to $SIAMESE_SCREENSHOTS (default: pytest's tmp dir).
"""
from __future__ import annotations

import pytest

from .browser import ONE, SEVEN, draw, open_tab, wait_until, wait_verdict

pytestmark = pytest.mark.e2e


# -- Embedding space ------------------------------------------------------------------------------
def test_embedding_map_shows_the_compared_digits_and_digits_on_hover(page, shots):
    draw(page, "a", SEVEN)
    draw(page, "b", ONE)
    assert wait_verdict(page) == "different"
    open_tab(page, "embedding")
    page.locator("#emb-map [data-marker='B']").wait_for()
    assert page.locator("#emb-map circle.pt").count() == 1000
    assert page.locator("#emb-map [data-marker='A'] image").count() == 1
    info = page.locator("#emb-info").inner_text()
    assert "among the 7s" in info and "among the 1s" in info

    # Hover: the digit under the pointer appears beside it.
    dot = page.locator("#emb-map circle.pt").nth(500)
    box = dot.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.locator("#emb-map .emb-tip")
    tip.wait_for(state="visible")
    hot = page.locator("#emb-map circle.pt.hot")
    assert hot.count() == 1 and tip.get_attribute("data-digit") == hot.get_attribute("data-d")
    assert "test digit #" in tip.inner_text()
    assert "url(\"data:image/png" in page.locator("#emb-map .emb-tip-img").evaluate("e => e.style.backgroundImage")
    page.screenshot(path=str(shots / "teach_embedding.png"), full_page=True)

    # The legend picks one class; the others fade.
    page.mouse.move(5, 5)
    page.click("#emb-map [data-focus-digit='4']")
    assert page.locator("#emb-map svg.emb-svg").get_attribute("data-focus") == "4"
    other = page.locator("#emb-map circle.pt:not([data-d='4'])").first
    wait_until(page, lambda: float(other.evaluate("e => getComputedStyle(e).opacity")) < 0.2, "others fading")

    # t-SNE: computed once for this model in the background, then shown.
    page.locator("#emb-method label", has_text="t-SNE").click()
    page.locator("#emb-map .emb-wrap[data-method='tsne']").wait_for(timeout=120_000)
    page.locator("#emb-map [data-marker='A']").wait_for()
    page.screenshot(path=str(shots / "teach_embedding_tsne.png"), full_page=False)


# -- One-shot -------------------------------------------------------------------------------------
def test_one_shot_ranks_a_drawn_seven_first(page, shots):
    open_tab(page, "oneshot")
    page.locator("#oneshot-refs figure").nth(9).wait_for()
    assert "99.4%" in page.locator("#oneshot-accuracy").inner_text()
    draw(page, "oneshot", SEVEN)
    page.locator("#oneshot-result .os-result[data-top='7']").wait_for()
    assert page.locator("#oneshot-result .os-row").count() == 10
    assert "Looks like a 7" in page.locator("#oneshot-result .os-guess").inner_text()
    page.screenshot(path=str(shots / "teach_oneshot.png"), full_page=True)

    seeds = page.locator("#oneshot-refs .os-refs")
    page.click("#oneshot-redraw")
    wait_until(page, lambda: seeds.get_attribute("data-seed") == "1", "new references")

    # The drawing becomes the 7's reference.
    page.locator("#oneshot-label input").click()
    page.get_by_role("option", name="7", exact=True).click()
    page.click("#oneshot-use")
    page.locator("#oneshot-refs figure.yours[data-label='7']").wait_for()
    page.locator("#oneshot-result .os-result[data-top='7']").wait_for()
    page.click("#oneshot-mnist")
    page.locator("#oneshot-refs figure.yours").wait_for(state="detached")


# -- Threshold & errors ----------------------------------------------------------------------------
def test_roc_curve_and_the_threshold_slider(page, shots):
    open_tab(page, "threshold")
    page.locator("#roc #roc-curve").wait_for()
    page.locator("#roc #roc-point").wait_for()
    assert page.locator("#mistakes .mk-card").count() == 16
    assert page.locator("#mistakes .mk-card.wrong").count() >= 2
    acc = page.locator("#scores [data-score='accuracy'] b").inner_text()
    assert acc.startswith("99.")
    page.screenshot(path=str(shots / "teach_threshold.png"), full_page=True)

    point = page.locator("#roc #roc-point")
    before = point.get_attribute("cx"), point.get_attribute("cy")
    box = page.locator("#teach-threshold input[type=number]")
    box.fill(box.evaluate("e => e.max"))
    box.press("Enter")
    wait_until(page, lambda: page.locator("#scores [data-score='recall'] b").inner_text() == "100.00%",
               "recall at the largest threshold")
    assert (point.get_attribute("cx"), point.get_attribute("cy")) != before
    assert "The model's own threshold is" in page.locator("#scores").inner_text()
    page.click("#teach-threshold-reset")
    wait_until(page, lambda: page.locator("#scores [data-score='accuracy'] b").inner_text() == acc,
               "the model's own threshold again")


# -- Losses -----------------------------------------------------------------------------------------
def test_losses_formulas_and_the_toy_steps(page, shots):
    open_tab(page, "losses")
    page.locator("#toy svg.toy-svg").wait_for()
    page.locator("#loss-card-contrastive .katex").first.wait_for()  # LaTeX rendered (KaTeX, async)
    value = page.locator("#toy-loss-value")
    first = float(value.inner_text())
    page.click("#toy-step")
    wait_until(page, lambda: float(value.inner_text()) < first, "a step downhill")
    page.locator("#toy-loss label", has_text="Triplet").click()
    page.locator("#toy .toy-box[data-loss='triplet']").wait_for()
    before = float(value.inner_text())
    page.click("#toy-run")
    wait_until(page, lambda: float(value.inner_text()) < before - 0.5, "twenty steps")
    page.screenshot(path=str(shots / "teach_losses.png"), full_page=True)


# -- a model retrained on the page ------------------------------------------------------------------
def test_views_follow_a_model_retrained_on_the_page(page, shots):
    """Retrain on the Retrain tab (a recorded run replayed): the session now uses that model,
    and every teaching view builds its own lessons for it."""
    pg = page
    open_tab(pg, "threshold")
    pg.locator("#roc #roc-curve").wait_for()
    shipped_auc = pg.locator("#roc .roc-box").get_attribute("data-auc")

    open_tab(pg, "retrain")
    pg.click("#retrain-start")
    pg.locator("#retrain-status").get_by_text("Compare now uses this model").wait_for()

    open_tab(pg, "threshold")  # the retrained model's Reference builds first: a note, then the curve
    wait_until(pg, lambda: pg.locator("#roc .roc-box").count() == 1
               and pg.locator("#roc .roc-box").get_attribute("data-auc") != shipped_auc,
               "the retrained model's ROC curve", timeout=180)
    open_tab(pg, "embedding")
    pg.locator("#emb-map svg.emb-svg").wait_for()
    assert pg.locator("#emb-map circle.pt").count() == 1000
    pg.screenshot(path=str(shots / "teach_embedding_retrained.png"), full_page=False)
    open_tab(pg, "oneshot")
    pg.locator("#oneshot-accuracy .os-acc").wait_for()
    assert "99.4%" not in pg.locator("#oneshot-accuracy").inner_text()  # not the shipped model's
    draw(pg, "oneshot", SEVEN)
    pg.locator("#oneshot-result .os-row").nth(9).wait_for()
    pg.screenshot(path=str(shots / "teach_oneshot_retrained.png"), full_page=True)
