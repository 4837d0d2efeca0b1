"""The fast tier (`make test-fast`) stays in-process because conftest refuses child processes
in tests not marked `process`, `app` or `e2e`; these tests check that refusal itself."""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("start", [
    lambda: subprocess.run([sys.executable, "-c", "pass"]),
    lambda: os.fork(),
    lambda: multiprocessing.get_context("spawn").Process(target=print).start(),
], ids=["subprocess", "fork", "multiprocessing"])
def test_an_unmarked_test_may_not_start_a_child_process(start, _in_process_unless_marked):
    with pytest.raises(RuntimeError, match="mark it `process`"):
        start()
    assert len(_in_process_unless_marked) == 1
    _in_process_unless_marked.clear()  # or this test would fail at its end, as it should elsewhere


@pytest.mark.process
def test_a_process_test_may(_in_process_unless_marked):
    assert _in_process_unless_marked is None
    assert subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True,
                          text=True).stdout == "42\n"


def test_make_test_fast_leaves_out_every_tier_that_starts_processes():
    from .conftest import CHILDREN_ALLOWED, ROOT

    make = (ROOT / "Makefile").read_text()
    line = next(ln for ln in make.splitlines() if "pytest -m" in ln and "test-fast" not in ln
                and ln.startswith("\t"))
    for marker in CHILDREN_ALLOWED:
        assert f"not {marker}" in line, line
