"""scripts/symbols_handdrawn.py: the trials it runs, and a short run through /one_shot's function."""
from __future__ import annotations

import re
from pathlib import Path

from demo import symbol_examples
from scripts import symbols_handdrawn as S

from .conftest import CHECKPOINT


def test_every_query_is_asked_against_one_reference_of_each_symbol(tmp_path):
    files = symbol_examples.write_set(tmp_path, 3, names=("star", "heart", "moon"))
    asked = []

    def ask(references, query):
        assert sorted(Path(r).stem for r in references) == ["heart", "moon", "star"]
        assert query not in references
        asked.append(query)
        return Path(query).stem  # a perfect model: the file's own name
    assert S.run(ask, files, trials=4) == (24, 24)  # 4 trials x 3 symbols x 2 other drawings
    assert S.run(lambda refs, q: "nothing", files, trials=2) == (0, 12)


def test_a_short_run_agrees_with_the_tabs_figure(capsys):
    assert S.main(["--checkpoint", str(CHECKPOINT), "--variations", "2", "--trials", "1"]) == 0
    out = capsys.readouterr().out
    api = float(re.search(r"10-way one-shot top-1: ([0-9.]+)", out).group(1))
    embedded = float(re.search(r"embedded once .*: ([0-9.]+)", out).group(1))
    assert api == embedded
