"""scripts/research.py: named trials, one row each appended to a markdown table (committed by the
real driver; here --no-commit into a temporary file)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "scripts" / "research.py"


def _script():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import research
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return research


@pytest.mark.process
def test_list_names_the_trials_and_each_trial_builds_a_valid_command():
    from siamese.train import parse_args

    r = _script()
    out = subprocess.run([sys.executable, str(SCRIPT), "list"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "omniglot-constant-5min" in out.stdout
    for name, trial in r.TRIALS.items():
        argv = r.command(name, 2, ROOT / "runs" / "x.pt", "data")
        cfg, _ = parse_args(argv[3:])  # every recipe is a command siamese.train accepts
        assert cfg.seed == 2 and cfg.threads == 1 and cfg.max_steps, name
        assert ("splits" in trial.evals) == bool(cfg.exclude_digits), name
        assert trial.sees_digits == ("mnist" in cfg.data), name
    assert parse_args(r.command("omniglot-constant-5min", 0, "x.pt", "data")[3:])[0].schedule == "constant"
    # a smoke budget replaces the trial's own
    argv = r.command("omniglot-cosine-5min", 0, "x.pt", "data", max_steps=3)
    assert argv.count("--max-steps") == 1 and parse_args(argv[3:])[0].max_steps == 3
    assert r.shown_command(argv).startswith("python -m siamese.train --data omniglot ")
    assert "--out" not in r.shown_command(argv) and "--seed" not in r.shown_command(argv)


def test_rows_go_under_the_section_table_and_text_after_it_stays(tmp_path):
    r = _script()
    table = tmp_path / "research.md"
    table.write_text("# Research\n\nearlier text\n")
    figures = r.figures_from_metrics({"val_one_shot_accuracy": 0.8, "splits": {
        "unseen": {"pair_accuracy": 0.75, "roc_auc": 0.85, "one_shot_accuracy": 0.7},
        "seen": {"pair_accuracy": 0.99}}})
    figures.update(r.figures_from_report({"omniglot_runs": {"accuracy": 0.9}}))
    res = {"steps": 10, "train_s": 5.0, "wall_s": 9.4, "cpu_s": 8.6, "figures": figures, "code": "abc",
           "command": "python -m siamese.train --max-steps 10"}
    r.append_row(table, r.row("hidden-supcon-constant-5min", 0, res))
    table.write_text(table.read_text() + "\ntext after the table\n")
    r.append_row(table, r.row("omniglot-cosine-5min", 1, dict(res, figures={"runs": 0.91, "mnist": 0.7})))
    text = table.read_text()
    assert text.startswith("# Research\n\nearlier text\n\n" + r.SECTION) and text.count(r.SECTION) == 1
    rows = [line for line in text.splitlines() if line.startswith("| hidden") or line.startswith("| omniglot")]
    assert rows[0] == ("| hidden-supcon-constant-5min | 0 | 10 | 5 | 9 | 9 | 0.9000 | - | 0.8000 | 0.7500 | "
                       "0.8500 | 0.7000 | 0.9900 | abc | `python -m siamese.train --max-steps 10` |")
    assert rows[1].startswith("| omniglot-cosine-5min | 1 | 10 | 5 | 9 | 9 | 0.9100 | 0.7000 | - | - |")
    assert text.index(rows[1]) < text.index("text after the table")
    assert r.done_rows(table) == {("hidden-supcon-constant-5min", 0), ("omniglot-cosine-5min", 1)}
    head = next(line for line in text.splitlines() if line.startswith(r.TABLE_HEAD))
    assert head.count("|") == rows[0].count("|")


@pytest.mark.process
@pytest.mark.integration
def test_a_tiny_trial_runs_end_to_end_into_a_table_without_committing(data_root, omniglot_root, tmp_path):
    table = tmp_path / "research.md"
    runs = tmp_path / "runs"
    before = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    out = subprocess.run([sys.executable, str(SCRIPT), "run", "omniglot-constant-5min", "--seeds", "3",
                          "--max-steps", "2", "--table", str(table), "--no-commit", "--runs-dir", str(runs),
                          "--data-dir", str(data_root), "--mnist-draws", "1", "--code", "worktree"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    row = next(line for line in table.read_text().splitlines() if line.startswith("| omniglot-constant-5min"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["omniglot-constant-5min", "3", "2"]
    assert float(cells[5]) > 0  # the child's CPU seconds
    runs_acc, mnist, val = (float(c) for c in cells[6:9])
    assert 0.05 < runs_acc <= 1 and 0.1 <= mnist <= 1 and 0 < val <= 1
    assert cells[9:13] == ["-"] * 4 and cells[13] == "worktree"
    assert "--schedule constant" in cells[14] and "--max-steps 2" in cells[14]
    assert (runs / "omniglot-constant-5min-s3.pt").exists() and not (runs / "driver.pid").exists()
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout == before
