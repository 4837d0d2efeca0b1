"""scripts/unseen_digits.py: trains a configuration without some digits and prints the table."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "scripts" / "unseen_digits.py"


def _script():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import unseen_digits
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return unseen_digits


@pytest.mark.process
def test_help_lists_the_configs():
    r = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "generalise" in r.stdout and "--max-steps" in r.stdout


def test_budget_default_is_two_quiet_minutes():
    unseen_digits = _script()
    # 120 s x 5,386 pairs/s, 2 pairs per image, 256 images a step
    assert unseen_digits.quiet_steps(256) == 1263
    assert unseen_digits.CONFIGS["bce"].model == {} and unseen_digits.CONFIGS["bce"].train == {"loss": "bce"}


@pytest.mark.process
@pytest.mark.integration
def test_one_config_a_few_steps_prints_the_table(data_root):
    r = subprocess.run([sys.executable, str(SCRIPT), "--data-dir", str(data_root), "--configs", "generalise",
                        "--max-steps", "3", "--batch-size", "32", "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    # the markdown table (header, rule, one row), then the JSON line
    assert lines[-4].startswith("| config | seen acc | seen AUC | unseen acc | unseen AUC |")
    assert lines[-2].startswith("| generalise | ") and " | 3 | " in lines[-2]
    rows = json.loads(lines[-1])
    assert [r["config"] for r in rows] == ["generalise"] and rows[0]["steps"] == 3
    splits = rows[0]["splits"]
    assert splits["unseen_digits"] == [7, 8, 9] and splits["seen_digits"] == list(range(7))
    for split in ("seen", "unseen", "mixed"):
        assert 0 <= splits[split]["pair_accuracy"] <= 1
    assert rows[0]["model_config"]["normalize"] is True and rows[0]["train_config"]["mining"] == "hard"


def test_layers_names_each_stage_of_the_tower_and_unit_length_outputs():
    import torch

    from siamese.config import ModelConfig
    from siamese.model import SiameseNet

    u = _script()
    # conv7 -> ReLU -> pool -> conv5 -> ReLU -> conv5 -> ReLU -> flatten -> linear -> ReLU
    assert u.stage_names(SiameseNet()) == {1: "conv1", 2: "pool", 4: "conv2", 6: "conv3", 9: "linear"}
    # without the last ReLU the linear layer is the descriptor, scored as such
    assert "linear" not in u.stage_names(SiameseNet(ModelConfig(final_relu=False))).values()
    feats = u.stage_features(SiameseNet(), torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8), batch_size=2)
    sizes = {k: tuple(v.shape) for k, v in feats.items()}
    assert sizes == {"conv1": (3, 64 * 22 * 22), "pool": (3, 64 * 11 * 11), "conv2": (3, 128 * 7 * 7),
                     "conv3": (3, 256 * 3 * 3), "linear": (3, 512), "descriptor": (3, 512)}
    for v in feats.values():
        assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-5)


@pytest.mark.process
@pytest.mark.integration
def test_layers_prints_each_stages_auc(data_root):
    r = subprocess.run([sys.executable, str(SCRIPT), "--data-dir", str(data_root), "--configs", "bce",
                        "--max-steps", "2", "--batch-size", "32", "--layers", "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[-4] == "| config | conv1 | pool | conv2 | conv3 | linear | descriptor |"
    assert lines[-2].startswith("| bce | 0.")
    layers = json.loads(lines[-1])[0]["layers"]
    assert all(0 <= v[s] <= 1 for v in layers.values() for s in ("seen", "unseen"))


@pytest.mark.process
def test_unknown_config_is_refused():
    r = subprocess.run([sys.executable, str(SCRIPT), "--configs", "nope"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "unknown configs" in r.stderr
