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


def test_exclude_digits_refuses_bad_lists():
    for bad in ("0,1,2,3,4,5,6,7,8,9", "7,x", "10"):
        r = run("siamese.train", "--exclude-digits", bad, "--max-steps", "1")
        assert r.returncode == 2 and "--exclude-digits" in r.stderr, (bad, r.stderr)


@pytest.mark.integration
def test_train_without_digits_then_evaluate_reports_the_three_splits(data_root, tmp_path):
    from siamese.checkpoint import excluded_digits, load_checkpoint

    out = tmp_path / "unseen.pt"
    r = run("siamese.train", "--data-dir", str(data_root), "--exclude-digits", "7,8,9", "--max-steps", "10",
            "--batch-size", "64", "--eval-size", "300", "--no-eval", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "without digits 7,8,9" in r.stdout and "unseen" in r.stdout
    _, ckpt = load_checkpoint(out)
    assert excluded_digits(ckpt) == (7, 8, 9)
    r = run("siamese.evaluate", str(out), "--data-dir", str(data_root), "--json", "--no-knn")
    assert r.returncode == 0, r.stderr
    splits = json.loads(r.stdout)["splits"]
    assert splits["unseen_digits"] == [7, 8, 9] and splits["seen_digits"] == list(range(7))
    for split, way in (("seen", 7), ("unseen", 3), ("mixed", 10)):
        row = splits[split]
        assert row["one_shot_way"] == way and row["num_pairs"] > 1000
        for key in ("pair_accuracy", "roc_auc", "negative_accuracy", "one_shot_accuracy"):
            assert 0 <= row[key] <= 1, (split, key, row)
    # the override scores any model as if other digits were unseen; 'none' drops the splits
    r = run("siamese.evaluate", str(out), "--data-dir", str(data_root), "--json", "--no-knn",
            "--exclude-digits", "none")
    assert r.returncode == 0 and "splits" not in json.loads(r.stdout)


@pytest.mark.parametrize("name", ["blog", "generalise"])
def test_train_preset_sets_every_field_it_names(name):
    from siamese.config import PRESETS, ModelConfig
    from siamese.train import model_config_from_args, parse_args

    cfg, args = parse_args(["--preset", name])
    model = model_config_from_args(args)
    for field, value in PRESETS[name]["train"].items():
        assert getattr(cfg, field) == value, field
    for field, value in PRESETS[name]["model"].items():
        assert getattr(model, field) == value, field
    if name == "blog":
        assert model == ModelConfig() and cfg == parse_args([])[0]
    # a flag on the line beats the preset
    assert parse_args(["--preset", name, "--margin", "0.7"])[0].margin == 0.7


def test_train_architecture_flags():
    from siamese.config import ModelConfig
    from siamese.train import model_config_from_args, parse_args

    cfg, args = parse_args(["--normalize", "--batchnorm", "--no-final-relu", "--embedding-dim", "128",
                            "--mining", "semihard"])
    assert model_config_from_args(args) == ModelConfig(embedding_dim=128, normalize=True, batchnorm=True,
                                                       final_relu=False)
    assert cfg.mining == "semihard"
