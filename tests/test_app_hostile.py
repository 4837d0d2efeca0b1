"""Hostile uploads through the real API: each bad file gets a result or a clear AppError, and
the server keeps answering; the upload cap comes from SIAMESE_MAX_UPLOAD_MB."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from demo.examples import example_pairs

from .test_app_api import ROOT, client, compare, free_port, server  # noqa: F401 (fixtures)
from .test_hostile_inputs import EXPECT_OK, corpus

pytestmark = pytest.mark.app


@pytest.mark.parametrize("name", sorted(corpus()))
def test_hostile_files_through_compare(client, tmp_path, name):  # noqa: F811
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
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False", SIAMESE_MAX_UPLOAD_MB="1")
    proc = subprocess.Popen([sys.executable, "app.py", "--no-download"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        t0 = time.perf_counter()
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read(100)
                break
            except OSError:
                assert proc.poll() is None and time.perf_counter() - t0 < 60
                time.sleep(0.2)
        from gradio_client import Client

        big = tmp_path / "big.png"
        # a valid PNG of ~2 MB (noise does not compress)
        import numpy as np
        from PIL import Image

        Image.fromarray(np.random.default_rng(0).integers(0, 256, (1200, 1200), np.uint8)).save(big)
        assert big.stat().st_size > 1_000_000
        c = Client(url, verbose=False)
        with pytest.raises(Exception, match="(?i)size|large|413"):
            compare(c, example_pairs()[0][0], big)
        assert compare(c, *example_pairs()[1])["same"] is False
    finally:
        proc.terminate()
        proc.wait(15)
