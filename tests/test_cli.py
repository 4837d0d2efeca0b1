"""Command-line entry points, smoke-run as a newcomer would."""
import json

import pytest

from .helpers import run


@pytest.mark.parametrize("module", ["siamese.train", "siamese.evaluate"])
def test_entry_points_explain_their_options(module):
    r = run(module, "--help")
    assert r.returncode == 0 and "--data-dir" in r.stdout


@pytest.mark.integration
def test_train_writes_a_checkpoint_that_evaluate_scores(data_root, tmp_path):
    out = tmp_path / "smoke.pt"
    r = run("siamese.train", "--data-dir", str(data_root), "--max-steps", "20", "--batch-size", "64",
            "--eval-size", "200", "--no-eval", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "step     20" in r.stdout and "pairs/s" in r.stdout and out.exists()
    r = run("siamese.evaluate", str(out), "--data-dir", str(data_root), "--json", "--no-knn")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    for key in ("pair_accuracy", "roc_auc", "threshold", "one_shot_accuracy"):
        assert 0 <= m[key] <= 1 or key == "threshold"
    assert m["num_test_pairs"] == 20000


def test_bad_checkpoint_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("nope")
    r = run("siamese.evaluate", str(bad), "--no-knn")
    assert r.returncode != 0 and "not a loadable checkpoint" in r.stderr
