"""The /compare API through gradio_client against a launched server, and `python app.py`."""
from __future__ import annotations

import urllib.request

import pytest

from demo.examples import example_pairs
from demo.measure.launch import served_app

from .helpers import bad_files, compare

pytestmark = pytest.mark.app


def test_only_compare_one_shot_retrain_and_the_class_endpoints_are_public(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert sorted(endpoints) == ["/class_retrain_api", "/compare", "/one_shot", "/retrain_api", "/watch_class"]


def test_same_digit_twice_is_same(client):
    a, b = example_pairs()[0]  # a drawn 7 and a DejaVu Sans 7
    r = compare(client, a, a)
    assert r["same"] is True and r["verdict"] == "same" and r["distance"] <= r["threshold"]
    r = compare(client, a, b)
    assert r["same"] is True and r["same_probability"] > 0.5


def test_different_digits_are_different(client):
    a, b = example_pairs()[1]  # a drawn 7 and a drawn 1
    r = compare(client, a, b)
    assert set(r) >= {"distance", "same_probability", "same", "threshold"}
    assert r["same"] is False and r["distance"] > r["threshold"] and r["same_probability"] < 0.5


@pytest.mark.parametrize("name", ["one_pixel", "blank", "not_an_image", "corrupt", "bomb"])
def test_bad_input_is_an_error_and_the_server_keeps_answering(client, tmp_path, name):
    from gradio_client.exceptions import AppError

    path, phrase = bad_files(tmp_path)[name]
    good_a, good_b = example_pairs()[1]
    with pytest.raises(AppError, match=f"image_b: .*{phrase}") as e:
        compare(client, good_a, path)
    assert "Traceback" not in str(e.value) and "/tmp/" not in str(e.value)
    assert compare(client, good_a, good_b)["same"] is False


def test_one_side_missing_is_a_clear_error_then_both_work(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="two image files"):
        compare(client, example_pairs()[0][0], None)
    assert compare(client, *example_pairs()[0])["same"] is True


def test_app_py_honours_gradio_env_and_serves_fast():
    """`python app.py` with GRADIO_SERVER_NAME / GRADIO_SERVER_PORT: the page and /compare are
    there within a generous bound (the real figure is in demo/measure.py's report)."""
    from gradio_client import Client

    with served_app(timeout=60) as (_, url, _log):
        with urllib.request.urlopen(url, timeout=5) as r:
            assert b"Siamese Digits" in r.read()
        assert compare(Client(url, verbose=False), *example_pairs()[1])["same"] is False
