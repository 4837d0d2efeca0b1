"""Hostile uploads through the real API: each bad file gets a result or a clear AppError, and
the server keeps answering; the upload cap comes from SIAMESE_MAX_UPLOAD_MB."""
from __future__ import annotations

import time

import pytest

from demo.examples import example_pairs
from demo.measure.launch import served_app

from .helpers import EXPECT_OK, compare, corpus

pytestmark = pytest.mark.app


@pytest.mark.parametrize("name", sorted(corpus()))
def test_hostile_files_through_compare(client, tmp_path, name):
    from gradio_client.exceptions import AppError

    path = tmp_path / "upload.png"
    path.write_bytes(corpus()[name])
    seven = example_pairs()[0][0]
    if name in EXPECT_OK:
        r = compare(client, seven, path)
        assert {"distance", "same", "same_probability", "threshold"} <= set(r)
    else:
        with pytest.raises(AppError) as e:
            compare(client, seven, path)
        msg = str(e.value)
        assert "image_b" in msg and "Traceback" not in msg and "/tmp/" not in msg
    assert compare(client, *example_pairs()[1])["same"] is False  # still answering


def test_upload_cap_is_set_by_environment(tmp_path):
    import numpy as np
    from gradio_client import Client
    from PIL import Image

    big = tmp_path / "big.png"
    # a valid PNG of ~2 MB (noise does not compress)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (1200, 1200), np.uint8)).save(big)
    assert big.stat().st_size > 1_000_000
    with served_app(env={"SIAMESE_MAX_UPLOAD_MB": "1"}, timeout=60) as (_, url, _log):
        c = Client(url, verbose=False)
        with pytest.raises(Exception, match="(?i)size|large|413"):
            compare(c, example_pairs()[0][0], big)
        assert compare(c, *example_pairs()[1])["same"] is False


def test_uploads_are_deleted_after_the_cache_age(tmp_path):
    """SIAMESE_CACHE_SECONDS: uploaded files leave the server's disk once that old, and the page
    keeps answering (the disk of a public page must not fill up)."""
    from gradio_client import Client
    from PIL import Image, PngImagePlugin

    # The example digits with a text chunk added: a user's own files (the examples' own cached
    # copies, which share their bytes and so their cache paths, are kept on purpose).
    mine = []
    for i, example in enumerate(example_pairs()[1]):
        info = PngImagePlugin.PngInfo()
        info.add_text("comment", "drawn by a test")
        Image.open(example).save(tmp_path / f"mine_{i}.png", pnginfo=info)
        mine.append(tmp_path / f"mine_{i}.png")
    cache = tmp_path / "gradio-cache"
    env = {"SIAMESE_CACHE_SECONDS": "2", "GRADIO_TEMP_DIR": str(cache)}
    with served_app(env=env, timeout=60) as (_, url, _log):
        c = Client(url, verbose=False)
        assert compare(c, *mine)["same"] is False
        uploads = [p for p in cache.rglob("mine_*.png") if p.is_file()]
        assert len(uploads) == 2, "the two uploads should be in the cache"
        deadline = time.monotonic() + 15
        while any(p.exists() for p in uploads):
            assert time.monotonic() < deadline, [str(p) for p in uploads if p.exists()]
            time.sleep(0.25)
        assert compare(c, *example_pairs()[0])["same"] is True
