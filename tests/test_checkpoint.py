"""One checkpoint format: round trip, refusal of code and garbage, atomic saves."""
import os
import pickle

import pytest
import torch

from siamese.checkpoint import (
    CheckpointError,
    checkpoint_bytes,
    checkpoint_from_bytes,
    load_checkpoint,
    make_checkpoint,
    save_checkpoint,
)
from siamese.config import ModelConfig
from siamese.model import SiameseNet


def small():
    torch.manual_seed(0)
    return SiameseNet(ModelConfig(channels=(4, 8, 8), embedding_dim=16))


def test_round_trip_keeps_weights_config_and_metadata(tmp_path):
    net = small()
    path = save_checkpoint(tmp_path / "m.pt", net, train_config={"loss": "bce"},
                           metrics={"pair_accuracy": 0.5}, threshold=1.25,
                           calibration={"slope": -1.0, "intercept": 2.0}, step=7)
    model, ckpt = load_checkpoint(path)
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(model.embed(x), net.eval().embed(x))
    assert model.config == net.config and not model.training
    assert ckpt["threshold"] == 1.25 and ckpt["step"] == 7 and ckpt["metrics"]["pair_accuracy"] == 0.5
    assert set(ckpt["versions"]) == {"siamese", "torch", "torchvision"}


def test_checkpoints_cross_processes_as_bytes_that_load_like_a_file():
    ckpt = make_checkpoint(small(), threshold=0.5, step=3)
    back = checkpoint_from_bytes(checkpoint_bytes(ckpt))
    assert back["step"] == 3 and torch.equal(back["state_dict"]["head.weight"], ckpt["state_dict"]["head.weight"])


def test_a_checkpoint_without_a_threshold_is_refused_by_the_comparator():
    from siamese import Comparator

    ckpt = make_checkpoint(small())  # no threshold: no verdict can be given
    with pytest.raises(CheckpointError, match="no decision threshold"):
        Comparator.from_checkpoint_dict(ckpt)


class Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/siamese_pwned",))


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    if os.path.exists("/tmp/siamese_pwned"):
        os.remove("/tmp/siamese_pwned")
    bad = tmp_path / "evil.pt"
    torch.save({"format": 1, "state_dict": Evil(), "model_config": {}}, bad)
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)
    bad.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)
    assert not os.path.exists("/tmp/siamese_pwned")


def test_garbage_and_wrong_shapes_are_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError):
        load_checkpoint(junk)
    torch.save({"some": "dict"}, junk)
    with pytest.raises(CheckpointError, match="not a Siamese"):
        load_checkpoint(junk)
    path = save_checkpoint(tmp_path / "m.pt", small())
    ckpt = torch.load(path, weights_only=True)
    ckpt["state_dict"]["head.weight"] = torch.zeros(2, 99)
    torch.save(ckpt, junk)
    with pytest.raises(CheckpointError, match="architecture"):
        load_checkpoint(junk)


def test_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", small(), step=1)
    before = path.read_bytes()

    def broken_save(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, small(), step=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind


SAVER = """
import sys, torch
from siamese.checkpoint import save_checkpoint
from siamese.model import SiameseNet
net = SiameseNet()  # the full 8.8 MB model, so a save takes long enough to be interrupted
step = 0
while True:
    step += 1
    print("saving", step, flush=True)
    save_checkpoint(sys.argv[1], net, step=step)
"""


@pytest.mark.process
def test_process_killed_mid_save_leaves_a_loadable_file(tmp_path):
    """SIGKILL at three points inside a save (right as it starts, a few ms in, later): each time
    the file on disk is the last complete save, whole and loadable."""
    import signal
    import subprocess
    import sys
    import time

    from .helpers import ROOT

    path = tmp_path / "m.pt"
    for delay in (0.0, 0.004, 0.012):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().split() == ["saving", "1"]
            assert proc.stdout.readline().split() == ["saving", "2"]  # save 1 is complete
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)  # somewhere inside save 2
        finally:
            proc.kill()
            proc.wait()
        model, ckpt = load_checkpoint(path)
        assert ckpt["step"] in (1, 2) and model.embed(torch.rand(1, 1, 28, 28)).shape == (1, 512)
