"""scripts/space.py: which files a Space gets, the ZeroGPU pin check, and the upload up to the
Hub's API (a stand-in here: no network, no token on this machine)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import space

from .conftest import ROOT

pytestmark = pytest.mark.process  # scripts/space.py lists what a Space gets with `git ls-files`


def test_the_space_gets_the_page_the_library_and_the_checkpoints_and_nothing_else():
    files = space.space_files(ROOT)
    for needed in ("app.py", "README.md", "requirements.txt", "checkpoints/siamese_mnist.pt",
                   "checkpoints/MODEL_CARD.md", "demo/app.py", "demo/retrain/runners.py", "siamese/data.py",
                   "demo/assets/page.css", "demo/example_digits/7_drawn.png"):
        assert needed in files
    assert [f for f in files if f.startswith(("tests/", "scripts/", "data/", ".venv/", ".ci/", "demo/measure/",
                                              "runs/", ".gradio/"))] == []
    assert {"Makefile", "requirements-dev.txt", "pytest.ini", ".gitignore"}.isdisjoint(files)
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)


def _touch(root: Path, *paths: str) -> None:
    for p in paths:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_bytes(b"\0binary" if p.endswith(".pt") else b"x\n")


def test_a_new_checkpoint_goes_by_itself_and_ignored_or_measuring_files_do_not(tmp_path):
    """From the working tree as git sees it: tracked and new files alike, never ignored ones."""
    (tmp_path / ".gitignore").write_text("/data/\n.venv/\n__pycache__/\n")
    _touch(tmp_path, "app.py", "README.md", "requirements.txt", "checkpoints/siamese_mnist.pt", "siamese/data.py",
           "demo/app.py", "demo/measure/latency.py", "tests/test_x.py", "scripts/load.py", "Makefile")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    # after the last commit: another model, MNIST, a venv, bytecode
    _touch(tmp_path, "checkpoints/siamese_omniglot.pt", "data/MNIST/raw/t10k-images-idx3-ubyte",
           ".venv/bin/python", "demo/__pycache__/app.cpython-311.pyc", "docs/hosting.md")
    assert space.space_files(tmp_path) == [
        "README.md", "app.py", "checkpoints/siamese_mnist.pt", "checkpoints/siamese_omniglot.pt", "demo/app.py",
        "docs/hosting.md", "requirements.txt", "siamese/data.py"]


def test_the_dry_run_lists_every_file_and_checks_the_pins_without_uploading(monkeypatch, capsys):
    monkeypatch.setattr(space, "upload", lambda *a, **k: pytest.fail("a dry run uploaded"))
    assert space.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    for f in space.space_files(ROOT):
        assert f"  {f}" in out
    assert "checkpoints/siamese_mnist.pt  (binary: stored with Xet)" in out
    assert f"in {len(space.space_files(ROOT))} files" in out and "pin check: the front matter" in out


def test_make_space_files_is_the_dry_run():
    r = subprocess.run(["make", "-s", "space-files", f"PYTHON={sys.executable}", "VENV=/nonexistent"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("Would upload to a Space:") and "checkpoints/siamese_mnist.pt" in r.stdout


def test_make_space_without_a_name_says_how():
    r = subprocess.run(["make", "-s", "space", "VENV=/nonexistent", "-o", "/nonexistent/.app"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "make space SPACE=user/name" in r.stdout


@pytest.mark.parametrize("argv", [[], ["not-a-space"], ["a/b/c"]])
def test_an_upload_needs_a_space_named_user_slash_name(argv, monkeypatch):
    monkeypatch.setattr(space, "upload", lambda *a, **k: pytest.fail("uploaded without a proper name"))
    with pytest.raises(SystemExit) as e:
        space.main(argv)
    assert e.value.code == 2


class FakeHfApi:
    """The three HfApi calls the upload makes, recorded; the Space already holds `remote`."""

    def __init__(self, remote):
        self.remote, self.calls = remote, []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def list_repo_files(self, repo_id, **kw):
        self.calls.append(("list_repo_files", repo_id, kw))
        return list(self.remote)

    def create_commit(self, repo_id, **kw):
        self.calls.append(("create_commit", repo_id, kw))


def test_the_upload_creates_a_gradio_space_and_mirrors_the_files_in_one_commit():
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api = FakeHfApi([".gitattributes", "README.md", "app.py", "old_module.py", "checkpoints/retired.pt"])
    files = space.space_files(ROOT)
    url = space.upload("teacher/siamese-digits", ROOT, files, api=api)
    assert url == "https://huggingface.co/spaces/teacher/siamese-digits"
    (c, repo, kw), (l, _, lkw), (m, _, commit) = api.calls
    assert (c, repo, l, m) == ("create_repo", "teacher/siamese-digits", "list_repo_files", "create_commit")
    assert kw == {"repo_type": "space", "space_sdk": "gradio", "exist_ok": True, "private": False}
    assert lkw == {"repo_type": "space"} and commit["repo_type"] == "space"
    adds = [op for op in commit["operations"] if isinstance(op, CommitOperationAdd)]
    deletes = [op.path_in_repo for op in commit["operations"] if isinstance(op, CommitOperationDelete)]
    assert [op.path_in_repo for op in adds] == files
    assert all(Path(op.path_or_fileobj) == ROOT / op.path_in_repo for op in adds)
    assert deletes == ["old_module.py", "checkpoints/retired.pt"]  # .gitattributes is the Hub's own


def test_a_failed_upload_says_how_to_log_in(monkeypatch, capsys):
    def refuse(*a, **k):
        raise RuntimeError("401 Unauthorized")

    monkeypatch.setattr(space, "upload", refuse)
    assert space.main(["teacher/siamese-digits"]) == 1
    err = capsys.readouterr().err
    assert "401 Unauthorized" in err and "hf auth login" in err and "HF_TOKEN" in err


# -- the pins ------------------------------------------------------------------------------------
def test_the_front_matter_and_requirements_match_what_zerogpu_lists():
    assert space.check_repo_pins(ROOT) == []
    fm = space.front_matter((ROOT / "README.md").read_text())
    reqs = space.space_requirements((ROOT / "requirements.txt").read_text(), fm["python_version"])
    assert str(reqs["torch"].specifier) == "==2.11.0" and str(reqs["torchvision"].specifier) == "==0.26.0"


README = (ROOT / "README.md").read_text()
REQUIREMENTS = (ROOT / "requirements.txt").read_text()


def _swap(text: str, pattern: str, new: str) -> str:
    line = next(l for l in text.splitlines() if l.startswith(pattern))
    return text.replace(line, new)


@pytest.mark.parametrize("readme, requirements, complaint", [
    # what requirements.txt said before: pip took torch 2.13 on Python 3.12, and spaces 0.40
    (README, _swap(REQUIREMENTS, 'torch==', 'torch>=2.8,<2.14; python_version >= "3.12"'), "torch must be pinned"),
    (README, _swap(REQUIREMENTS, 'spaces', 'spaces>=0.40; python_version >= "3.12" and sys_platform == "linux"'),
     "spaces must admit"),
    (README, _swap(REQUIREMENTS, 'torch==', 'torch==2.13.0; python_version >= "3.12"'), "torch must be pinned"),
    (README, _swap(REQUIREMENTS, 'torchvision==', 'torchvision==0.25.0; python_version >= "3.12"'),
     "torchvision must be ==0.26.0"),
    (README, _swap(REQUIREMENTS, 'spaces', 'spaces>=0.52; python_version >= "3.12"'), "spaces must admit"),
    (README, _swap(REQUIREMENTS, 'spaces', '# spaces dropped'), "spaces must admit"),
    # the pins only on Pythons the Space does not run
    (README, REQUIREMENTS.replace('python_version >= "3.12"', 'python_version >= "3.13"'), "torch must be pinned"),
    (_swap(README, 'python_version:', 'python_version: "3.13.1"'), REQUIREMENTS, "python_version '3.13.1'"),
    (_swap(README, 'sdk_version:', 'sdk_version: 7.0.0'), REQUIREMENTS, "sdk_version '7.0.0'"),
    (_swap(README, 'sdk:', 'sdk: docker'), REQUIREMENTS, "sdk is 'docker'"),
])
def test_drift_between_the_front_matter_requirements_and_zerogpu_is_caught(readme, requirements, complaint):
    problems = space.check_pins(readme, requirements)
    assert any(complaint in p for p in problems), problems


def test_a_space_on_python_3_10_needs_the_same_pins_there():
    readme = _swap(README, 'python_version:', 'python_version: "3.10.13"')
    assert any("torch must be pinned" in p for p in space.check_pins(readme, REQUIREMENTS))


def test_the_command_line_refuses_to_upload_when_the_pins_drift(tmp_path, monkeypatch, capsys):
    for f in space.space_files(ROOT):
        if not f.endswith(".pt"):
            (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / f).write_bytes((ROOT / f).read_bytes())
    (tmp_path / "requirements.txt").write_text(_swap(REQUIREMENTS, 'torch==', 'torch>=2.8; python_version >= "3.12"'))
    monkeypatch.setattr(space, "ROOT", tmp_path)
    monkeypatch.setattr(space, "upload", lambda *a, **k: pytest.fail("uploaded despite the drift"))
    assert space.main(["teacher/siamese-digits"]) == 1
    assert "torch must be pinned" in capsys.readouterr().err


def test_python_dash_m_scripts_space_runs_too():
    r = subprocess.run([sys.executable, "-m", "scripts.space", "--dry-run"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    assert "app.py" in r.stdout
