"""Command-line entry points, smoke-run as a newcomer would: `--help` through a real
`python -m` process, the rest in-process through `main([...])` (the same code, no interpreter
and torch to start again)."""
import json

import pytest

from siamese import evaluate, train

from .helpers import run


def run_main(main, argv, capsys) -> tuple[int, str, str]:
    """main(argv) in-process -> (exit code, stdout, stderr); argparse's exits included."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.process
@pytest.mark.parametrize("module", ["siamese.train", "siamese.evaluate"])
def test_entry_points_explain_their_options(module):
    r = run(module, "--help")
    assert r.returncode == 0 and "--data-dir" in r.stdout


@pytest.mark.integration
def test_train_writes_a_checkpoint_that_evaluate_scores(data_root, tmp_path, capsys):
    out = tmp_path / "smoke.pt"
    code, stdout, stderr = run_main(train.main, ["--data-dir", str(data_root), "--max-steps", "20", "--batch-size",
                                                 "64", "--eval-size", "200", "--no-eval", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert "step     20" in stdout and "pairs/s" in stdout and out.exists()
    assert "data:" not in stdout  # MNIST runs print what they always printed
    code, stdout, stderr = run_main(evaluate.main, [str(out), "--data-dir", str(data_root), "--json", "--no-knn"],
                                    capsys)
    assert code == 0, stderr
    m = json.loads(stdout)
    for key in ("pair_accuracy", "roc_auc", "threshold", "one_shot_accuracy"):
        assert 0 <= m[key] <= 1 or key == "threshold"
    assert m["num_test_pairs"] == 20000


@pytest.mark.process
def test_bad_checkpoint_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("nope")
    r = run("siamese.evaluate", str(bad), "--no-knn")
    assert r.returncode != 0 and "not a loadable checkpoint" in r.stderr


def test_exclude_digits_refuses_bad_lists(capsys):
    for bad in ("0,1,2,3,4,5,6,7,8,9", "7,x", "10"):
        code, _, stderr = run_main(train.main, ["--exclude-digits", bad, "--max-steps", "1"], capsys)
        assert code == 2 and "--exclude-digits" in stderr, (bad, stderr)


@pytest.mark.integration
def test_train_without_digits_then_evaluate_reports_the_three_splits(data_root, tmp_path, capsys):
    from siamese.checkpoint import excluded_digits, load_checkpoint

    out = tmp_path / "unseen.pt"
    code, stdout, stderr = run_main(train.main, ["--data-dir", str(data_root), "--exclude-digits", "7,8,9",
                                                 "--max-steps", "10", "--batch-size", "64", "--eval-size", "300",
                                                 "--no-eval", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert "without digits 7,8,9" in stdout and "unseen" in stdout
    _, ckpt = load_checkpoint(out)
    assert excluded_digits(ckpt) == (7, 8, 9)
    code, stdout, stderr = run_main(evaluate.main, [str(out), "--data-dir", str(data_root), "--json", "--no-knn"],
                                    capsys)
    assert code == 0, stderr
    splits = json.loads(stdout)["splits"]
    assert splits["unseen_digits"] == [7, 8, 9] and splits["seen_digits"] == list(range(7))
    for split, way in (("seen", 7), ("unseen", 3), ("mixed", 10)):
        row = splits[split]
        assert row["one_shot_way"] == way and row["num_pairs"] > 1000
        for key in ("pair_accuracy", "roc_auc", "negative_accuracy", "one_shot_accuracy"):
            assert 0 <= row[key] <= 1, (split, key, row)
    # the override scores any model as if other digits were unseen; 'none' drops the splits
    code, stdout, _ = run_main(evaluate.main, [str(out), "--data-dir", str(data_root), "--json", "--no-knn",
                                               "--exclude-digits", "none"], capsys)
    assert code == 0 and "splits" not in json.loads(stdout)


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


@pytest.mark.integration
def test_train_on_omniglot_then_score_it_on_the_runs(omniglot_root, data_root, tmp_path, capsys):
    """A symbols model from a few steps: its checkpoint records the data; evaluate scores it on
    the 400 trials of the 20 runs (and MNIST 10-way one-shot) beside the published figures."""
    from siamese.checkpoint import load_checkpoint

    out = tmp_path / "symbols.pt"
    code, stdout, stderr = run_main(train.main, [
        "--data", "omniglot", "--data-dir", str(omniglot_root), "--rotations", "4", "--loss", "supcon",
        "--no-final-relu", "--max-steps", "3", "--batch-size", "32", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert "data: Omniglot background characters x 4 rotations (held out for validation: Early_Aramaic, Korean)" \
        " | 720 classes | validation: 100 20-way one-shot episodes" in stdout
    assert "val 1-shot" in stdout and "val_one_shot_accuracy" in stdout and "saved" in stdout
    _, ckpt = load_checkpoint(out)
    cfg = ckpt["train_config"]
    assert (cfg["data"], cfg["rotations"], tuple(cfg["val_alphabets"])) == ("omniglot", 4, ("Early_Aramaic", "Korean"))
    assert 0 <= ckpt["metrics"]["val_one_shot_accuracy"] <= 1 and ckpt["threshold"] is not None

    code, stdout, stderr = run_main(evaluate.main, [str(out), "--omniglot-runs", "--json", "--data-dir",
                                                    str(omniglot_root), "--mnist-draws", "2"], capsys)
    assert code == 0, stderr
    m = json.loads(stdout)
    runs = m["omniglot_runs"]
    assert (runs["trials"], runs["runs"], runs["way"], len(runs["per_run"])) == (400, 20, 20, 20)
    assert runs["run_min"] <= runs["accuracy"] <= runs["run_max"]
    assert runs["accuracy"] == pytest.approx(sum(runs["per_run"]) / 20, abs=1e-4)
    mnist = m["mnist_one_shot"]
    assert (mnist["way"], mnist["draws"], mnist["queries"]) == (10, 2, 10000) and 0 <= mnist["accuracy"] <= 1
    assert m["trained_on"].startswith("Omniglot") and m["published"]["omniglot_runs"][0]["who"] == "people"

    code, stdout, _ = run_main(evaluate.main, [str(out), "--omniglot-runs", "--data-dir", str(omniglot_root),
                                               "--mnist-draws", "0"], capsys)
    assert code == 0
    assert "trained on: Omniglot" in stdout
    assert "20 runs x 20 queries, 20-way" in stdout and "95.5%  people (Lake et al. 2015)" in stdout
    assert "this model <--" in stdout and "MNIST" not in stdout  # --mnist-draws 0 skips MNIST


@pytest.mark.integration
def test_train_on_seen_digits_and_omniglot(omniglot_root, data_root, capsys):
    code, stdout, stderr = run_main(train.main, [
        "--data", "mnist+omniglot", "--data-dir", str(data_root), "--exclude-digits", "7,8,9", "--val-alphabets",
        "none", "--max-steps", "2", "--batch-size", "32", "--eval-size", "200", "--no-eval"], capsys)
    assert code == 0, stderr
    # 10 digit labels (7-9 empty) + 242 characters: no label shared
    assert "MNIST digits without 7,8,9 + Omniglot background characters (all 8 alphabets) | 252 classes" in stdout
    assert "no validation score" in stdout and "unseen" in stdout


def test_data_flags_that_do_not_fit_are_refused(capsys):
    for argv, what in ((["--rotations", "4"], "Omniglot data only"), (["--data", "omniglot", "--exclude-digits", "7"],
                       "exclude_digits"), (["--data", "omniglot", "--val-alphabets", "Klingon"], "--val-alphabets")):
        code, _, stderr = run_main(train.main, argv + ["--max-steps", "1"], capsys)
        assert code == 2 and what in stderr, (argv, stderr)
