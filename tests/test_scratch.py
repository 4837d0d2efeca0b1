"""The server's temporary files live under one folder per process, gone when it exits."""
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import ROOT

pytestmark = pytest.mark.process

SCRIPT = """
from demo.scratch import scratch_folder
a, b = scratch_folder("siamese-retrained-"), scratch_folder("siamese-runs-")
(a / "model.pt").write_bytes(b"x" * 1000)
print(a.parent, a.parent == b.parent and a.name.startswith("siamese-retrained-"))
"""


def test_a_server_process_leaves_no_temporary_files_behind():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    root, same = out.stdout.split()
    assert same == "True" and Path(root).name.startswith("siamese-server-")
    assert not Path(root).exists()  # removed at exit, with what was inside
