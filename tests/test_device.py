"""siamese.device: device choice, bf16 autocast, and what `import siamese` pulls in."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from siamese.device import autocast, pick_device, use_amp

from .helpers import ROOT


def test_pick_device_raises_valueerror_not_systemexit():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("abacus")


def test_amp_settings_and_autocast():
    assert use_amp("on", torch.device("cpu")) and not use_amp("off", torch.device("cuda"))
    with autocast("cpu", enabled=True):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast("cpu", enabled=False):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.process
def test_importing_siamese_for_inference_leaves_the_trainer_out():
    code = ("import sys, siamese; from siamese import Comparator; "
            "print(sorted(m for m in ('siamese.train', 'siamese.evaluate', 'siamese.job', 'gradio') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_first_calibration_may_come_from_inside_inference(monkeypatch):
    """A process's first large Comparator.embed (under inference_mode: the page's MNIST reference
    built on a lane) calibrates bf16; its training steps need autograd back on (it raised
    "element 0 of tensors does not require grad" and the reference was unavailable)."""
    from siamese import device

    monkeypatch.setattr(device, "_calibration", None)  # as in a fresh process
    with torch.inference_mode():
        cal = device.calibrate(seconds=0.02)
    assert isinstance(cal.amp, bool) and cal.threads >= 1 and len(cal.steps_per_s) >= 2
