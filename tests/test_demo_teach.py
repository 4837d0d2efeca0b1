"""The teaching tabs' handlers (demo.teach.*), called as plain functions with the shipped
checkpoint and MNIST, then with a second model registered the way the Retrain tab registers a
session's model, and without MNIST."""
from __future__ import annotations

import gc
import re
import time

import gradio as gr
import numpy as np
import pytest
import torch

from demo.compare.handlers import Shown
from demo.models import SHIPPED, Models
from demo.teach import embedding as E
from demo.teach import losses as LO
from demo.teach import oneshot as O
from demo.teach import threshold as TT
from demo.teach.tabs import teach_cache
from siamese import Comparator
from siamese.evaluate import choose_threshold

from .helpers import blank_sketch, sketch

PCA, TSNE = "PCA (linear)", "t-SNE (non-linear)"


def euclidean_variant(comparator: Comparator, mnist) -> Comparator:
    """A stand-in for a model retrained on the page: the shipped tower read as a Euclidean
    model (as contrastive and triplet training make), threshold and calibration chosen on 2,000
    validation digits, and no recorded metrics, so its one-shot accuracy must be measured."""
    ckpt = {**comparator.checkpoint, "state_dict": comparator.model.state_dict()}
    ckpt["model_config"] = {**ckpt["model_config"], "metric": "euclidean"}
    ckpt["metrics"] = {}
    cmp = Comparator.from_checkpoint_dict(ckpt)
    chosen = choose_threshold(cmp.model, mnist.val.subset(torch.arange(2000)))
    cmp.threshold = chosen["threshold"]
    cmp.calibration = (chosen["calibration"]["slope"], chosen["calibration"]["intercept"])
    return cmp


def wait_ready(models: Models, key: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while models.status(key) != "ready":
        assert models.status(key) != "unavailable", models.data_error
        assert time.monotonic() < deadline, "the reference did not build in time"
        time.sleep(0.2)


def attr(html: str, name: str) -> str:
    return re.search(rf'{name}="([^"]*)"', html).group(1)


@pytest.fixture(scope="module")
def cache(models):
    return teach_cache(models)


@pytest.fixture(scope="module")
def shown_7_1(comparator):
    """The pair a session's Compare board last showed: a drawn 7 and a drawn 1."""
    r = comparator.compare(sketch("7")["composite"], sketch("1")["composite"])
    return Shown(r.distance, r.same_probability, r.image_a, r.image_b)


# -- Embedding space ------------------------------------------------------------------------------
def test_map_shows_1000_digits_by_class_with_hover_sprites(cache):
    html, info, timer = E.render(cache, SHIPPED, None, PCA)
    assert attr(html, "data-method") == "pca" and attr(html, "data-n") == "1000"
    dots = re.findall(r'<circle class="pt" [^>]*data-d="(\d)"', html)
    assert len(dots) == 1000 and sorted(set(dots)) == list("0123456789")
    assert np.bincount([int(d) for d in dots]).tolist() == [100] * 10
    assert attr(html, "data-atlas").startswith("data:image/png;base64,")
    assert 'data-marker="' not in html and "Compare two digits" in info
    assert timer.active is False


def test_map_places_the_compared_digits_among_their_classes(cache, shown_7_1):
    html, info, _ = E.render(cache, SHIPPED, shown_7_1, PCA)
    assert 'data-marker="A"' in html and 'data-marker="B"' in html
    assert "among the <b>7s</b>" in info and "among the <b>1s</b>" in info
    assert "different" in info and "you-link diff" in html


def test_tsne_is_computed_in_the_background_then_shown(cache, models, shown_7_1):
    ref = models.reference(SHIPPED)
    html, info, timer = E.render(cache, SHIPPED, shown_7_1, TSNE)
    if not cache.tsne_ready(ref):  # first request: the PCA map meanwhile, and a timer to poll
        assert attr(html, "data-method") == "pca" and "being computed" in info and timer.active
    deadline = time.monotonic() + 120
    while not cache.tsne_ready(ref):
        assert time.monotonic() < deadline, "t-SNE did not finish"
        time.sleep(0.2)
    html, info, timer = E.render(cache, SHIPPED, shown_7_1, TSNE)
    assert attr(html, "data-method") == "tsne" and "t-SNE" in info and timer.active is False
    assert "among the <b>7s</b>" in info  # placed by its nearest map digits
    emap = cache.lessons(ref).map("tsne")
    d = np.linalg.norm(emap.xy[:, None] - emap.xy[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert (emap.labels[d.argmin(1)] == emap.labels).mean() > 0.95  # islands of one digit each


# -- Threshold & errors -----------------------------------------------------------------------------
def test_threshold_view_starts_at_the_models_threshold(cache, models, comparator):
    slider, roc, scores, dist, mistakes, key_shown, timer = TT.render(cache, SHIPPED, None, None)
    assert isinstance(slider, gr.Slider) and slider.value == pytest.approx(comparator.threshold, abs=slider.step)
    assert slider.minimum < comparator.threshold < slider.maximum and key_shown == SHIPPED
    assert float(attr(roc, "data-auc")) == pytest.approx(comparator.metrics["roc_auc"], abs=1e-3)
    assert 'id="roc-point"' in roc and 'id="roc-curve"' in roc
    c = models.reference(SHIPPED).confusion_at(comparator.threshold)
    assert f"{c['accuracy'] * 100:.2f}%" in scores and f"{c['precision'] * 100:.2f}%" in scores
    assert f"{c['recall'] * 100:.2f}%" in scores and "model's own threshold" in scores
    assert c["accuracy"] == pytest.approx(comparator.metrics["pair_accuracy"], abs=2e-3)
    assert "hist-same" in dist and "hist-different" in dist


def test_worst_mistakes_are_the_extremes_and_marked_at_the_threshold(cache, models, comparator):
    *_, mistakes, _, _ = TT.render(cache, SHIPPED, None, None)
    cards = re.findall(r'<figure class="mk-card (\w+)" data-wrong="(\d)">.*?<span class="mk-labels">(\d) and (\d)'
                       r'</span><span class="mk-d">d = ([^<]+)</span>', mistakes)
    assert len(cards) == 2 * TT.N_WORST
    same, diff = cards[:TT.N_WORST], cards[TT.N_WORST:]
    assert all(a == b for _, _, a, b, _ in same) and all(a != b for _, _, a, b, _ in diff)
    ref = models.reference(SHIPPED)
    far, close = cache.lessons(ref).worst_pairs(TT.N_WORST)
    assert far[0].distance == pytest.approx(float(ref.same_distances.max()))
    assert close[0].distance == pytest.approx(float(ref.different_distances.min()))
    # At the model's threshold the very worst pairs are mistakes; at a huge one, same pairs are right.
    assert same[0][1] == "1" and diff[0][1] == "1"
    *_, mistakes_hi, _, _ = TT.render(cache, SHIPPED, 1e6, SHIPPED)
    assert 'class="mk-card right" data-wrong="0"' in mistakes_hi.split('id="mk-diff"')[0]


def test_moving_the_threshold_updates_scores_not_the_slider(cache, models):
    ref = models.reference(SHIPPED)
    lo, hi = ref.distance_range()
    slider, roc, scores, *_ = TT.render(cache, SHIPPED, hi, SHIPPED)
    assert isinstance(slider, type(gr.skip()))
    c = ref.confusion_at(hi)
    assert c["recall"] > 0.999 and f"{c['recall'] * 100:.2f}%" in scores
    assert "The model's own threshold is" in scores
    # Back to the model's own value: a fresh slider again.
    slider, *_ = TT.render(cache, SHIPPED, hi, None)  # Reset: the tab forgets which model it showed
    assert slider.value == pytest.approx(ref.comparator.threshold, abs=slider.step)


# -- One-shot --------------------------------------------------------------------------------------
def test_one_shot_without_a_drawing_shows_references_and_accuracy(cache, comparator):
    result, accuracy, refs, timer, unseen_button = O.render(cache, SHIPPED, None, 0, {})
    assert "Draw a digit" in result
    assert re.findall(r'data-label="(\d)"', refs) == list("0123456789")
    assert float(attr(accuracy, "data-accuracy")) == pytest.approx(comparator.metrics["one_shot_accuracy"])
    assert "this model's evaluation" in accuracy and attr(accuracy, "data-way") == "10"
    assert unseen_button.visible is False  # the pretrained model saw every digit


@pytest.mark.parametrize("digit", ["1", "4", "7"])
def test_one_shot_ranks_the_drawn_class_first(cache, digit):
    result, *_ = O.render(cache, SHIPPED, sketch(digit), 0, {})
    assert attr(result, "data-top") == digit
    ps = [float(p) for p in re.findall(r'class="os-row[^"]*" data-label="\d" data-p="([^"]+)"', result)]
    assert len(ps) == 10 and ps == sorted(ps, reverse=True)
    assert f"Looks like a <b>{digit}</b>" in result


def test_one_shot_references_redraw_with_the_seed(cache):
    _, _, refs0, *_ = O.render(cache, SHIPPED, None, 0, {})
    _, _, refs1, *_ = O.render(cache, SHIPPED, None, 1, {})
    assert attr(refs0, "data-seed") == "0" and attr(refs1, "data-seed") == "1"
    assert re.findall(r"test #(\d+)", refs0) != re.findall(r"test #(\d+)", refs1)
    assert refs0 == O.render(cache, SHIPPED, None, 0, {})[2]  # seeded: the same draw again


def test_own_drawing_becomes_a_reference(cache):
    own = O.keep_drawing(cache, SHIPPED, sketch("7"), "7", {})
    assert list(own) == [7] and own[7].shape == (28, 28)
    result, _, refs, *_ = O.render(cache, SHIPPED, sketch("7"), 0, own)
    assert '<figure class="yours" data-label="7">' in refs and "1 of them drawn by you" in refs
    assert attr(result, "data-top") == "7"
    with pytest.raises(gr.Error, match="Draw a digit first"):
        O.keep_drawing(cache, SHIPPED, None, "3", own)
    with pytest.raises(gr.Error):
        O.keep_drawing(cache, SHIPPED, blank_sketch(), "3", own)


def test_one_shot_blank_canvas_is_a_hint(cache):
    result, *_ = O.render(cache, SHIPPED, blank_sketch(), 0, {})
    assert 'data-state="hint"' in result


def test_one_shot_among_any_candidate_classes(cache):
    result, accuracy, refs, *_ = O.render(cache, SHIPPED, sketch("7"), 0, {}, ["1", "7"])
    assert re.findall(r'data-label="(\d)"', refs) == ["1", "7"]
    assert re.findall(r'class="os-row[^"]*" data-label="(\d)"', result) == ["7", "1"]
    assert attr(accuracy, "data-way") == "2" and "2-way one-shot accuracy among 1, 7" in accuracy
    assert "Guessing would get 50%" in accuracy and float(attr(accuracy, "data-accuracy")) > 0.95
    # the same references per class whichever others are candidates
    _, _, all_refs, *_ = O.render(cache, SHIPPED, None, 0, {})
    seven = re.compile(r'data-label="7"><img[^>]*><figcaption><b>7</b><span>(test #\d+)')
    assert seven.findall(refs) == seven.findall(all_refs)
    result, accuracy, refs, *_ = O.render(cache, SHIPPED, sketch("7"), 0, {}, ["7"])
    assert "at least 2 candidate classes" in result and accuracy == "" and refs == ""


# -- Losses ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("label", list(LO.LOSSES))
def test_losses_toy_renders_and_steps_downhill(label):
    pts = LO.LAYOUTS["Negative too close"]
    svg, readout = LO.render(pts, label, 1.0)
    loss = LO.LOSSES[label]
    assert attr(svg, "data-loss") == loss and 'id="toy-ring"' in svg and "Pull." in readout
    before = float(attr(svg, "data-value"))
    frames = list(LO.step(pts, label, 1.0, n=3))
    assert len(frames) == 3
    after = float(attr(frames[-1][0], "data-value"))
    assert after < before and frames[-1][2] != pts


def test_losses_reset_and_quiet_triplet():
    svg, readout, pts = LO.reset("Already well apart", "Triplet", 1.0)
    assert pts == [list(p) for p in LO.LAYOUTS["Already well apart"]]
    assert float(attr(svg, "data-value")) == 0 and "nothing moves" in readout
    assert 'class="force' not in svg  # no forces at all


# -- another model, as the Retrain tab registers one --------------------------------------------------
def test_every_view_follows_the_sessions_own_model(cache, models, comparator, mnist):
    other = euclidean_variant(comparator, mnist)
    key = models.add(other)
    try:
        html, _, timer = E.render(cache, key, None, PCA)
        if models.status(key) == "loading":
            assert 'data-state="loading"' in html and timer.active
        wait_ready(models, key)
        ref, ref_shipped = models.reference(key), models.reference(SHIPPED)
        assert cache.lessons(ref) is not cache.lessons(ref_shipped)

        html, info, _ = E.render(cache, key, None, PCA)
        assert attr(html, "data-n") == "1000" and "plain Euclidean" in info
        assert cache.lessons(ref).map("pca").xy.tolist() != cache.lessons(ref_shipped).map("pca").xy.tolist()

        slider, roc, scores, *_ = TT.render(cache, key, 2.7, SHIPPED)  # the slider was the shipped one's
        assert slider.value == pytest.approx(other.threshold, abs=slider.step)
        assert float(attr(roc, "data-auc")) > 0.95
        assert float(attr(roc, "data-auc")) != pytest.approx(comparator.metrics["roc_auc"], abs=1e-6)

        result, accuracy, *_ = O.render(cache, key, sketch("7"), 0, {})
        assert "measured here" in accuracy and float(attr(accuracy, "data-accuracy")) > 0.9
        assert attr(result, "data-top") == "7"
    finally:
        models.remove(key)
    del ref
    gc.collect()
    assert all(r.comparator is not other for r in cache._lessons.keys())  # its lessons went with it


def unseen_variant(comparator: Comparator, digits=(7, 8, 9)) -> Comparator:
    """A stand-in for a model retrained on the page without `digits`: the shipped weights with
    a checkpoint that says so (the views read only that)."""
    ckpt = {**comparator.checkpoint, "state_dict": comparator.model.state_dict()}
    ckpt["train_config"] = {**(ckpt.get("train_config") or {}), "exclude_digits": list(digits)}
    return Comparator.from_checkpoint_dict(ckpt)


def test_a_model_trained_without_some_digits_marks_them_and_ranks_among_them(cache, models, comparator):
    from siamese.evaluate import split_metrics

    key = models.add(unseen_variant(comparator))
    try:
        wait_ready(models, key)
        html, info, _ = E.render(cache, key, None, PCA)
        assert attr(html, "data-unseen") == "7,8,9"
        ringed = re.findall(r'<circle class="pt unseen" [^>]*data-d="(\d)"', html)
        assert len(ringed) == 300 and set(ringed) == {"7", "8", "9"}
        assert len(re.findall(r'<circle class="pt" ', html)) == 700
        assert "7 (never seen)" in html and "6 (never seen)" not in html
        assert "never saw 7, 8, 9" in info
        # the pretrained model's map marks nothing
        shipped_html, shipped_info, _ = E.render(cache, SHIPPED, None, PCA)
        assert 'class="pt unseen"' not in shipped_html and "never saw" not in shipped_info

        result, accuracy, refs, _, button = O.render(cache, key, sketch("7"), 0, {})
        assert button.visible is True and "7, 8, 9" in button.value
        assert attr(accuracy, "data-way") == "10" and "never saw 7, 8, 9" in accuracy
        result, accuracy, refs, _, _ = O.render(cache, key, sketch("7"), 0, {}, ["7", "8", "9"])
        assert re.findall(r'data-label="(\d)"', refs) == ["7", "8", "9"]
        assert attr(result, "data-top") == "7" and len(re.findall(r'class="os-row', result)) == 3
        assert "3-way one-shot accuracy among 7, 8, 9, digits it never saw" in accuracy
        # the figure siamese.evaluate's "unseen" split gives this model
        ref = models.reference(key)
        splits = split_metrics(ref.comparator.model, ref.embeddings, ref.labels, (7, 8, 9), ref.comparator.threshold)
        assert float(attr(accuracy, "data-accuracy")) == pytest.approx(splits["unseen"]["one_shot_accuracy"],
                                                                       abs=2e-3)
    finally:
        models.remove(key)


def test_without_mnist_the_views_say_so(comparator, tmp_path):
    offline = Models(comparator, data_dir=tmp_path / "no_mnist", download=False).start()
    assert offline.wait(60)
    cache = teach_cache(offline)
    html, info, timer = E.render(cache, SHIPPED, None, PCA)
    assert 'data-state="unavailable"' in html and "not available" in html and not timer.active
    assert 'data-state="unavailable"' in TT.render(cache, SHIPPED, None, None)[1]
    assert 'data-state="unavailable"' in O.render(cache, SHIPPED, sketch("7"), 0, {})[0]
    assert "svg" in LO.render(LO.LAYOUTS["Negative too close"], "Triplet", 1.0)[0]  # needs no data
