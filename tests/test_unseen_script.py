"""scripts/unseen_digits.py: trains a configuration without some digits and prints the table."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "scripts" / "unseen_digits.py"


def test_help_lists_the_configs():
    r = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "generalise" in r.stdout and "--max-steps" in r.stdout


def test_budget_default_is_two_quiet_minutes():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import unseen_digits
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    # 120 s x 5,386 pairs/s, 2 pairs per image, 256 images a step
    assert unseen_digits.quiet_steps(256) == 1263
    assert unseen_digits.CONFIGS["bce"].model == {} and unseen_digits.CONFIGS["bce"].train == {"loss": "bce"}


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


def test_unknown_config_is_refused():
    r = subprocess.run([sys.executable, str(SCRIPT), "--configs", "nope"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "unknown configs" in r.stderr
