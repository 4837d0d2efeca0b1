"""demo.compare (handlers, views), demo.views, demo.distance_plot, demo.inputs, demo.models: the
Compare tab's Python side, no server."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from demo import distance_plot, views
from demo.compare import handlers
from demo.compare import views as compare_views
from demo.examples import example_pairs
from demo.inputs import DRAW, EMPTY_SKETCH, UPLOAD, digit_upload, side_image, sketch_image
from demo.models import SHIPPED, Models

from .helpers import bad_files, blank_sketch, sketch


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models(comparator, data_root):
    m = Models(comparator, data_dir=data_root).start()
    assert m.wait(180), "the MNIST reference did not build in time"
    assert m.status(SHIPPED) == "ready", m.data_error
    return m


@pytest.fixture(scope="module")
def offline_models(comparator, tmp_path_factory):
    m = Models(comparator, data_dir=tmp_path_factory.mktemp("no_mnist"), download=False).start()
    assert m.wait(60)
    return m


def run(models, a, b, mode_a=DRAW, mode_b=DRAW, threshold=None, strict=False):
    t = models.comparator(SHIPPED).threshold if threshold is None else threshold
    ua = a if mode_a == UPLOAD else None
    ub = b if mode_b == UPLOAD else None
    sa = a if mode_a == DRAW else EMPTY_SKETCH
    sb = b if mode_b == DRAW else EMPTY_SKETCH
    return handlers.compare_sides(models, SHIPPED, sa, ua, mode_a, sb, ub, mode_b, t, strict=strict)


def verdict_of(outputs) -> str:
    html = outputs[0]
    return html.split('data-verdict="', 1)[1].split('"', 1)[0]


# -- compare_sides -----------------------------------------------------------------------------
def test_same_digit_drawn_twice_is_same(models):
    out = run(models, sketch("7"), sketch("7"))
    assert verdict_of(out) == "same"
    verdict, view_a, view_b, plot, nn_a, nn_b, shown = out
    assert view_a.shape == view_b.shape == (224, 224) and view_a.dtype == np.uint8
    assert shown.distance <= models.comparator(SHIPPED).threshold
    assert 'data-ready="1"' in plot and 'id="pair-marker"' in plot
    assert "8 of 8 are 7s" in nn_a or "of 8 are 7s" in nn_a
    assert "A looks like a <b>7</b>" in verdict


def test_different_digits_are_different(models):
    out = run(models, sketch("7"), sketch("1"))
    assert verdict_of(out) == "different"
    assert "are 1s" in out[5]


def test_an_upload_and_a_drawing_compare(models):
    a, b = example_pairs()[0]  # 7 drawn, 7 in DejaVu Sans
    assert verdict_of(run(models, a, sketch("7"), mode_a=UPLOAD)) == "same"
    assert verdict_of(run(models, a, b, mode_a=UPLOAD, mode_b=UPLOAD)) == "same"
    # The side's mode decides: an upload lying in a hidden tab does not count.
    out = handlers.compare_sides(models, SHIPPED, EMPTY_SKETCH, a, DRAW, sketch("7"), None, DRAW, 0.0)
    assert verdict_of(out) == "hint"


@pytest.mark.parametrize("pair", range(len(example_pairs())))
def test_every_example_pair_gets_a_verdict(models, pair):
    a, b = example_pairs()[pair]
    assert Path(a).exists() and Path(b).exists()
    assert verdict_of(run(models, a, b, mode_a=UPLOAD, mode_b=UPLOAD)) in ("same", "different")


def test_example_pairs_teach_the_obvious_cases(models):
    pairs = example_pairs()
    assert verdict_of(run(models, *pairs[0], mode_a=UPLOAD, mode_b=UPLOAD)) == "same"  # 7 / 7
    assert verdict_of(run(models, *pairs[1], mode_a=UPLOAD, mode_b=UPLOAD)) == "different"  # 7 / 1


def test_threshold_moves_the_verdict(models):
    out = run(models, sketch("7"), sketch("1"))
    shown = out[-1]
    verdict, plot = handlers.rethreshold(models, SHIPPED, shown, shown.distance + 1.0)
    assert 'data-verdict="same"' in verdict and "called same" in plot
    verdict, _ = handlers.rethreshold(models, SHIPPED, shown, shown.distance - 1.0)
    assert 'data-verdict="different"' in verdict
    # Nothing compared yet: the verdict card is left alone, the plot redrawn.
    verdict, plot = handlers.rethreshold(models, SHIPPED, None, 1.0)
    assert isinstance(verdict, type(gr.skip())) and "svg" in plot


@pytest.mark.parametrize("a, b, expect", [
    (None, None, "two digits"), ("7", None, "digit B"), (None, "7", "digit A"),
])
def test_missing_side_is_a_hint_then_an_error(models, a, b, expect):
    sa = sketch(a) if a else EMPTY_SKETCH
    sb = sketch(b) if b else EMPTY_SKETCH
    out = run(models, sa, sb)
    assert verdict_of(out) == "hint" and expect in out[0]
    assert out[1] is None and out[-1] is None
    with pytest.raises(gr.Error, match=expect):
        run(models, sa, sb, strict=True)


def test_blank_canvas_is_a_hint_not_an_error(models):
    out = run(models, blank_sketch(), sketch("4"))
    assert verdict_of(out) == "hint" and "Digit A" in out[0] and "blank" in out[0]
    with pytest.raises(gr.Error, match="Digit A: the image looks blank"):
        run(models, blank_sketch(), sketch("4"), strict=True)


@pytest.mark.parametrize("name", ["one_pixel", "blank", "not_an_image", "corrupt", "bomb"])
def test_bad_uploads_say_which_side_and_why(models, tmp_path_factory, name):
    path, phrase = bad_files(tmp_path_factory.mktemp("bad"))[name]
    out = run(models, sketch("7"), str(path), mode_b=UPLOAD)
    assert verdict_of(out) in ("hint", "error") and phrase in out[0] and "Digit B" in out[0]
    assert str(path.parent) not in out[0]  # no server paths on the page
    with pytest.raises(gr.Error, match=f"Digit B: .*{phrase}"):
        run(models, sketch("7"), str(path), mode_b=UPLOAD, strict=True)
    # and the next request is served as usual
    assert verdict_of(run(models, sketch("7"), sketch("7"))) == "same"


# -- the API function --------------------------------------------------------------------------
def test_compare_files_returns_the_verdict_as_json(models):
    a, b = example_pairs()[1]
    r = handlers.compare_files(models, a, b)
    assert set(r) >= {"distance", "same_probability", "same", "threshold", "verdict"}
    assert r["same"] is False and r["verdict"] == "different" and 0 <= r["same_probability"] <= 1
    assert r["threshold"] == models.comparator(SHIPPED).threshold


@pytest.mark.parametrize("name", ["one_pixel", "blank", "not_an_image", "corrupt", "bomb"])
def test_compare_files_bad_input_is_a_clear_error(models, tmp_path_factory, name):
    path, phrase = bad_files(tmp_path_factory.mktemp("bad"))[name]
    with pytest.raises(gr.Error, match=f"image_a: .*{phrase}"):
        handlers.compare_files(models, str(path), example_pairs()[0][0])


def test_compare_files_needs_two_files(models):
    with pytest.raises(gr.Error, match="two image files"):
        handlers.compare_files(models, example_pairs()[0][0], None)


# -- without MNIST -----------------------------------------------------------------------------
def test_without_mnist_everything_else_works(offline_models):
    m = offline_models
    assert m.status(SHIPPED) == "unavailable" and m.reference(SHIPPED) is None
    assert "\n" not in m.data_error and "no MNIST files under" in m.data_error
    out = run(m, sketch("7"), sketch("7"))
    assert verdict_of(out) == "same"
    assert "not available" in out[3] and 'data-ready="0"' in out[3]
    assert "not available" in out[4] and "guesses" not in out[0]


# -- inputs ------------------------------------------------------------------------------------
def test_a_side_means_the_input_of_its_front_tab():
    assert sketch_image(None) is None and sketch_image(EMPTY_SKETCH) is None
    s = sketch("4")
    assert sketch_image(s).shape == (280, 280, 4)
    assert side_image(s, "x.png", DRAW) is s["composite"]
    assert side_image(s, "x.png", UPLOAD) == "x.png"
    assert side_image(s, None, UPLOAD) is None


def test_digit_upload_does_not_decode(tmp_path):
    from gradio.data_classes import ImageData

    up = digit_upload(render=False)
    assert up.get_block_name() == "image" and up.image_mode is None
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png at all")
    assert up.preprocess(ImageData(path=str(junk))) == str(junk)
    assert up.preprocess(None) is None
    assert up.preprocess(ImageData(url="data:image/png;base64,aGVsbG8=")) == b"hello"


# -- views -------------------------------------------------------------------------------------
def test_numbers_read_well_and_the_network_view_keeps_every_pixel():
    assert views.fmt(15.834) == "15.8" and views.fmt(-2.3149) == "\u22122.31" and views.fmt(0.01234) == "0.0123"
    assert views.fmt(-3.7e-6) == "0" and views.fmt(12345.6) == "12346"
    img = np.zeros((28, 28), np.float32)
    img[3, 5] = 1.0
    big = views.network_view(img, scale=8)
    assert big.shape == (224, 224) and big[24:32, 40:48].min() == 255 and big.sum() == 255 * 64


@pytest.mark.parametrize("d, t, p, verdict", [
    (-3.0, 2.7, 0.99, "same"), (2.0, 2.7, 0.4, "same"), (20.0, 2.7, 0.0, "different"), (3.0, 2.7, 0.6, "different"),
])
def test_verdict_follows_the_threshold_and_flags_borderline_pairs(d, t, p, verdict):
    v, head, say = compare_views.verdict_text(d, p, t)
    assert v == verdict and head and say
    if (verdict == "same") != (p >= 0.5):
        assert "borderline" in say


def test_distance_svg_clamps_far_pairs():
    svg = distance_plot.distance_svg(2.7, 1e6, ref_range=(-20.0, 40.0))
    assert "\u25b6" in svg  # off the right edge: an arrow, not a marker outside the plot
    assert "this pair" in svg and "called same" in svg


def test_axis_ticks_are_round_numbers_inside_the_range():
    assert distance_plot.nice_ticks(-20, 45) == [-20, 0, 20, 40]
    assert distance_plot.nice_ticks(-0.05, 1.0) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])


@pytest.mark.parametrize("threshold", [-20.0, 0.0, 40.0])
def test_side_labels_stay_inside_and_apart(threshold):
    import re

    svg = distance_plot.distance_svg(threshold, None, ref_range=(-20.0, 40.0))
    end_same = float(re.search(r'x="([\d.]+)"[^>]*class="side same"', svg).group(1))
    start_diff = float(re.search(r'x="([\d.]+)"[^>]*class="side diff"', svg).group(1))
    assert end_same - 88 >= 0 and start_diff + 118 <= distance_plot.W and start_diff > end_same
