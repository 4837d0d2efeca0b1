"""demo.compare (handlers, views), demo.views, demo.distance_plot, demo.inputs, demo.models: the
Compare tab's Python side, no server."""
from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from demo import distance_plot, views
from demo.compare import handlers
from demo.compare import views as compare_views
from demo.examples import example_pairs
from demo.inputs import DRAW, EMPTY_SKETCH, UPLOAD, digit_upload, side_image, sketch_image
from demo.models import SHIPPED, ModelGone, Models
from demo.retrain.handlers import RetrainHandlers
from demo.teach.common import status_html
from siamese import data
from siamese.config import TrainConfig

from .helpers import bad_files, blank_sketch, sketch


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def offline_models(comparator, tmp_path_factory):
    m = Models(comparator, data_dir=tmp_path_factory.mktemp("no_mnist"), download=False).start()
    assert m.wait(60)
    return m


def run(models, a, b, mode_a=DRAW, mode_b=DRAW, threshold=None, strict=False, view=None, key=SHIPPED):
    """handlers.show for side A holding `a` and side B `b` (a drawing or an upload's path)."""
    ua = a if mode_a == UPLOAD else None
    ub = b if mode_b == UPLOAD else None
    sa = a if mode_a == DRAW else EMPTY_SKETCH
    sb = b if mode_b == DRAW else EMPTY_SKETCH
    view = view if view is not None else handlers.CompareView(key)
    return handlers.show(models, key, view, sa, ua, mode_a, sb, ub, mode_b, threshold, strict=strict)


def verdict_of(outputs) -> str:
    html = outputs[0]
    return html.split('data-verdict="', 1)[1].split('"', 1)[0]


SKIP = type(gr.skip())


# -- show: the tab's one handler ----------------------------------------------------------------
def test_same_digit_drawn_twice_is_same(models):
    out = run(models, sketch("7"), sketch("7"))
    assert verdict_of(out) == "same"
    verdict, view_a, view_b, plot, nn_a, nn_b, slider, view, key, note = out
    assert view_a.shape == view_b.shape == (224, 224) and view_a.dtype == np.uint8
    assert view.shown.distance <= models.comparator(SHIPPED).threshold
    assert 'data-ready="1"' in plot and 'id="pair-marker"' in plot
    assert "of 8 are 7s" in nn_a
    assert "A looks like a <b>7</b>" in verdict
    assert isinstance(key, SKIP) and isinstance(note, SKIP)  # the model is here: nothing to switch


def test_different_digits_are_different(models):
    out = run(models, sketch("7"), sketch("1"))
    assert verdict_of(out) == "different"
    assert "are 1s" in out[5]


def test_an_upload_and_a_drawing_compare(models):
    a, b = example_pairs()[0]  # 7 drawn, 7 in DejaVu Sans
    assert verdict_of(run(models, a, sketch("7"), mode_a=UPLOAD)) == "same"
    assert verdict_of(run(models, a, b, mode_a=UPLOAD, mode_b=UPLOAD)) == "same"
    # The side's mode decides: an upload lying in a hidden tab does not count.
    out = handlers.show(models, SHIPPED, None, EMPTY_SKETCH, a, DRAW, sketch("7"), None, DRAW, 0.0)
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


def test_threshold_moves_the_verdict_without_recomputing_the_sides(models):
    first = run(models, sketch("7"), sketch("1"))
    view = first[7]
    d = view.shown.distance
    out = run(models, sketch("7"), sketch("1"), threshold=d + 1.0, view=view)
    assert verdict_of(out) == "same" and "called same" in out[3]
    assert out[7].a is view.a and out[7].b is view.b  # both sides kept: no new preprocessing or embedding
    assert all(isinstance(x, SKIP) for x in (out[1], out[2], out[4], out[5]))  # views, neighbours unchanged
    assert verdict_of(run(models, sketch("7"), sketch("1"), threshold=d - 1.0, view=out[7])) == "different"


def test_a_side_that_did_not_change_is_kept_and_not_sent_again(models):
    view = run(models, sketch("7"), sketch("1"))[7]
    out = run(models, sketch("7"), sketch("7"), threshold=models.comparator(SHIPPED).threshold,
              view=view)
    assert verdict_of(out) == "same"
    assert out[7].a is view.a and out[7].b is not view.b
    assert isinstance(out[1], SKIP) and isinstance(out[4], SKIP)  # A's view and neighbours stay
    assert out[2] is not None and not isinstance(out[2], SKIP) and "are 7s" in out[5]


def test_a_new_model_puts_the_slider_on_its_own_threshold(models, comparator):
    view = run(models, sketch("7"), sketch("1"))[7]
    key = models.add(comparator, label="another model")
    try:
        out = handlers.show(models, key, view, sketch("7"), None, DRAW, sketch("1"), None, DRAW,
                            comparator.threshold + 5)
        slider = out[6]
        assert isinstance(slider, gr.Slider) and abs(slider.value - comparator.threshold) < slider.step
        assert out[7].key == key and out[7].a is not view.a  # its own descriptors
        # The same model again: the learner's threshold stands.
        again = handlers.show(models, key, out[7], sketch("7"), None, DRAW, sketch("1"), None, DRAW,
                              slider.value + 1)
        assert isinstance(again[6], SKIP) and f"{slider.value + 1:.3g}" in again[0]
    finally:
        models.remove(key)


@pytest.mark.parametrize("a, b, expect", [
    (None, None, "two digits"), ("7", None, "digit B"), (None, "7", "digit A"),
])
def test_missing_side_is_a_hint_and_the_button_warns(models, a, b, expect):
    sa = sketch(a) if a else EMPTY_SKETCH
    sb = sketch(b) if b else EMPTY_SKETCH
    out = run(models, sa, sb)
    assert verdict_of(out) == "hint" and expect in out[0]
    assert out[1] is None and out[7].shown is None
    with pytest.warns(UserWarning, match=expect):  # gr.Warning outside a server
        run(models, sa, sb, strict=True)


def test_blank_canvas_is_a_hint_not_an_error(models):
    out = run(models, blank_sketch(), sketch("4"))
    assert verdict_of(out) == "hint" and "Digit A" in out[0] and "blank" in out[0]
    with pytest.warns(UserWarning, match="Digit A: the image looks blank"):
        run(models, blank_sketch(), sketch("4"), strict=True)


@pytest.mark.parametrize("name", ["one_pixel", "blank", "not_an_image", "corrupt", "bomb"])
def test_bad_uploads_say_which_side_and_why(models, tmp_path_factory, name):
    path, phrase = bad_files(tmp_path_factory.mktemp("bad"))[name]
    out = run(models, sketch("7"), str(path), mode_b=UPLOAD)
    assert verdict_of(out) in ("hint", "error") and phrase in out[0] and "Digit B" in out[0]
    assert str(path.parent) not in out[0]  # no server paths on the page
    with pytest.warns(UserWarning, match=f"Digit B: .*{phrase}"):
        run(models, sketch("7"), str(path), mode_b=UPLOAD, strict=True)
    # and the next request is served as usual, in the same view
    assert verdict_of(run(models, sketch("7"), sketch("7"), view=out[7])) == "same"


def test_a_model_that_left_the_server_is_said_and_replaced_everywhere(models, comparator):
    key = models.add(comparator, label="your retrained model (test)")
    view = run(models, sketch("7"), sketch("7"), key=key)[7]
    assert view.key == key
    models.remove(key, "the server keeps 8 retrained models at most, and this one was the oldest")
    own = models.comparator(SHIPPED).threshold
    out = handlers.show(models, key, view, sketch("7"), None, DRAW, sketch("1"), None, DRAW, own + 3)
    verdict, *_, slider, new_view, new_key, note = out
    assert new_key == SHIPPED and new_view.key == SHIPPED
    assert "Your retrained model (test) is no longer on this server" in note and "the oldest" in note
    assert isinstance(slider, gr.Slider) and abs(slider.value - own) < slider.step  # its threshold, not the old one
    assert verdict_of(out) == "different"
    with pytest.raises(ModelGone, match="oldest"):
        models.comparator(key)


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


def test_while_mnist_downloads_the_page_says_from_where(comparator, tmp_path, monkeypatch):
    """On a Space MNIST comes from the Hub at every start: the page says so while it waits, and
    a retrain asked for meanwhile is told to wait, not that there is no data."""
    started, release = threading.Event(), threading.Event()

    def slow_hub(root):
        started.set()
        release.wait(60)
        raise OSError("offline")

    monkeypatch.setenv("SPACE_ID", "teacher/siamese-digits")
    monkeypatch.delenv(data.SOURCE_ENV, raising=False)
    monkeypatch.setitem(data.FETCHERS, "hub", slow_hub)
    monkeypatch.setitem(data.FETCHERS, "torchvision", lambda root: (_ for _ in ()).throw(OSError("HTTP 403")))
    m = Models(comparator, data_dir=tmp_path, download=True).start()
    try:
        assert started.wait(60)
        assert m.status(SHIPPED) == "loading"
        assert m.loading_text() == "Downloading MNIST from the Hugging Face Hub (ylecun/mnist)"
        assert "Downloading MNIST from the Hugging Face Hub (ylecun/mnist) for the map" in status_html("loading", m, "the map")

        def no_data(*args):
            raise data.DataUnavailableError("not yet")

        h = RetrainHandlers(m, SimpleNamespace(start=no_data), None)
        with pytest.raises(gr.Error) as e:
            h._start(TrainConfig(), "someone", None)
        assert e.value.title == "Not ready yet" and "Downloading MNIST from the Hugging Face Hub" in e.value.message
    finally:
        release.set()
    assert m.wait(60)
    assert m.status(SHIPPED) == "unavailable" and "the download failed" in m.data_error and m.data_step is None


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


def test_a_digit_pad_hands_over_its_composite_as_png_bytes_only(tmp_path):
    from gradio.components.image_editor import EditorData, EditorDataBlobs
    from gradio.data_classes import FileData

    from demo.inputs import digit_pad

    pad = digit_pad("t")
    png = tmp_path / "composite.png"
    png.write_bytes(b"\x89PNG composite")  # never decoded here
    sent = pad.preprocess(EditorData(background=FileData(path=str(tmp_path / "nope.png")), layers=[],
                                     composite=FileData(path=str(png))))
    assert sent == {"background": None, "layers": [], "composite": b"\x89PNG composite"}
    pad.blob_storage["x1"] = EditorDataBlobs(background=None, layers=[], composite=b"blob bytes")
    assert pad.preprocess(EditorData(id="x1", background=None, layers=[], composite=None))["composite"] == b"blob bytes"
    assert "x1" not in pad.blob_storage  # taken, as Gradio's own preprocess does
    assert pad.preprocess(EditorData(background=None, layers=[], composite=None)) == EMPTY_SKETCH
    assert pad.preprocess(None) is None and sketch_image(sent) == b"\x89PNG composite"
    # the same drawing sent again is the same side: hashed, not decoded
    assert handlers.identity(sketch_image(sent)) == handlers.identity(b"\x89PNG composite")


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
