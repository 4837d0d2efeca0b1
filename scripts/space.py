"""Put the page on a Hugging Face Space: exactly the files the Space runs, uploaded with
huggingface_hub (which stores the checkpoints with Xet/LFS, as the Hub requires of binaries
over about 1 MB; a plain `git push` of this repository is refused for that reason).

    python scripts/space.py --dry-run                 # what would go, and the pin check (no network)
    python scripts/space.py you/siamese-digits        # create the Space if needed, then upload
    make space-files  /  make space SPACE=you/siamese-digits

The upload needs a Hugging Face token with write access: `.venv/bin/hf auth login` once, or
HF_TOKEN in the environment. It is one commit: every file below added, and every other file
already on the Space deleted (except the Hub's own .gitattributes), so the Space mirrors this
working tree. Before anything goes, the ZeroGPU pins are checked (`check_pins`): the README's
front matter and requirements.txt must agree with what ZeroGPU supports.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What a Space runs: the entry point, the front matter and requirements it installs from, the
# library, the page, every checkpoint (a new one goes by itself), and the docs the README links.
SPACE_FILES = ("app.py", "README.md", "requirements.txt", "packages.txt", "LICENSE")
SPACE_FOLDERS = ("siamese/", "demo/", "checkpoints/", "docs/")
LEFT_OUT = ("demo/measure/",)  # measuring tools, never imported by the page
KEEP_ON_SPACE = (".gitattributes",)  # written by the Hub when it creates the Space
LFS_FROM_BYTES = 1_000_000  # the Hub refuses binaries above about this without LFS/Xet

# ZeroGPU, as its docs list it (huggingface.co/docs/hub/spaces-zerogpu): the Pythons and torch
# releases it supports, each torch with the torchvision built for it.
ZEROGPU_PYTHONS = ("3.12.12", "3.10.13")
ZEROGPU_TORCH = {"2.8.0": "0.23.0", "2.9.1": "0.24.1", "2.10.0": "0.25.0", "2.11.0": "0.26.0"}
# The oldest `spaces` whose refusals demo.retrain.runners recognises (gr.Errors titled
# "ZeroGPU ..."), and the release tests/fake_spaces.py models.
SPACES_MIN, SPACES_MODELLED = "0.51", "0.51.3"


# -- what goes ------------------------------------------------------------------------------
def _working_tree(root: Path) -> list[str]:
    """Files in the working tree that git does not ignore (tracked or new), as posix paths;
    without git, every file under root outside dot-folders."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=root, capture_output=True, check=True).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        return [p.relative_to(root).as_posix() for p in root.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)]


def goes_to_space(path: str) -> bool:
    """Whether a repository path belongs on the Space."""
    if "__pycache__" in path.split("/") or path.endswith(".pyc"):
        return False
    if path.startswith(LEFT_OUT):
        return False
    return path in SPACE_FILES or path.startswith(SPACE_FOLDERS)


def space_files(root: Path = ROOT) -> list[str]:
    """The files the Space gets, sorted; each exists under root."""
    return sorted(p for p in set(_working_tree(root)) if goes_to_space(p) and (root / p).is_file())


def _is_binary(path: Path) -> bool:
    with open(path, "rb") as f:
        return b"\0" in f.read(8192)


def listing(root: Path, files: list[str]) -> str:
    """One line per file (size, and how the Hub stores a large binary), then a total."""
    lines, total = [], 0
    for f in files:
        size = (root / f).stat().st_size
        total += size
        note = "  (binary: stored with Xet)" if size > LFS_FROM_BYTES and _is_binary(root / f) else ""
        lines.append(f"{size / 1e6:9.3f} MB  {f}{note}")
    lines.append(f"{total / 1e6:9.3f} MB  in {len(files)} files")
    return "\n".join(lines)


# -- the pins ZeroGPU needs -------------------------------------------------------------------
def front_matter(readme: str) -> dict[str, str]:
    """The README's YAML front matter as flat `key: value` strings (quotes dropped)."""
    m = re.match(r"---\n(.*?)\n---\n", readme, re.S)
    if not m:
        return {}
    out = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "#")):
            out[key.strip()] = value.strip().strip("\"'")
    return out


def space_requirements(requirements: str, python_version: str) -> dict:
    """{name: packaging Requirement} of the requirements.txt lines pip installs on a Linux
    Space running `python_version` (markers evaluated; -r lines and comments skipped)."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    env = {**default_environment(), "python_version": ".".join(python_version.split(".")[:2]),
           "python_full_version": python_version, "sys_platform": "linux", "platform_system": "Linux",
           "os_name": "posix"}
    active = {}
    for line in requirements.splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(env):
            active[req.name.lower()] = req
    return active


def _pinned(req) -> str | None:
    """The version of an `==X` requirement, else None."""
    specs = list(req.specifier) if req is not None else []
    return specs[0].version if len(specs) == 1 and specs[0].operator == "==" else None


def check_pins(readme: str, requirements: str) -> list[str]:
    """What keeps the Space from matching ZeroGPU's documented versions; [] when all agree:
    the front matter's Python is one ZeroGPU lists; on it, torch is pinned to a listed release
    and torchvision to that release's build; `spaces` admits nothing older than SPACES_MIN but
    does admit SPACES_MODELLED; gradio admits the front matter's sdk_version."""
    from packaging.version import Version

    fm, problems = front_matter(readme), []
    python = fm.get("python_version", "")
    if fm.get("sdk") != "gradio":
        problems.append(f"README front matter: sdk is {fm.get('sdk')!r}, not 'gradio'")
    if python not in ZEROGPU_PYTHONS:
        problems.append(f"README front matter: python_version {python!r} is not one ZeroGPU lists "
                        f"({', '.join(ZEROGPU_PYTHONS)})")
        return problems
    reqs = space_requirements(requirements, python)
    torch, vision = _pinned(reqs.get("torch")), _pinned(reqs.get("torchvision"))
    if torch not in ZEROGPU_TORCH:
        problems.append(f"requirements.txt on Python {python}: torch must be pinned (==) to a release ZeroGPU "
                        f"lists ({', '.join(ZEROGPU_TORCH)}), not {reqs.get('torch')}")
    elif vision != ZEROGPU_TORCH[torch]:
        problems.append(f"requirements.txt on Python {python}: torchvision must be =={ZEROGPU_TORCH[torch]} "
                        f"(built for torch {torch}), not {reqs.get('torchvision')}")
    spaces = reqs.get("spaces")
    floors = [Version(s.version) for s in (spaces.specifier if spaces else ())
              if s.operator in (">=", ">", "==", "~=")]
    if spaces is None or not floors or max(floors) < Version(SPACES_MIN) \
            or not spaces.specifier.contains(SPACES_MODELLED):
        problems.append(f"requirements.txt on Python {python}: spaces must admit {SPACES_MODELLED} and "
                        f"nothing before {SPACES_MIN}, not {spaces}")
    gradio, sdk = reqs.get("gradio"), fm.get("sdk_version", "")
    if gradio is None or not sdk or not gradio.specifier.contains(sdk):
        problems.append(f"README front matter: sdk_version {sdk!r} is outside requirements.txt's {gradio}")
    if not fm.get("app_file"):
        problems.append("README front matter: no app_file")
    return problems


def check_repo_pins(root: Path = ROOT) -> list[str]:
    return check_pins((root / "README.md").read_text(), (root / "requirements.txt").read_text())


# -- the upload -----------------------------------------------------------------------------
def upload(repo_id: str, root: Path = ROOT, files: list[str] | None = None, api=None, private: bool = False,
           message: str | None = None) -> str:
    """Create the Space (Gradio SDK) if it does not exist and make its files exactly `files`
    in one commit. `api`: an HfApi (tests pass a stand-in). Returns the Space's URL."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    files = space_files(root) if files is None else files
    api = api or HfApi()
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True, private=private)
    ours = set(files)
    stale = [f for f in api.list_repo_files(repo_id, repo_type="space") if f not in ours and f not in KEEP_ON_SPACE]
    operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(root / f)) for f in files]
    operations += [CommitOperationDelete(path_in_repo=f) for f in stale]
    api.create_commit(repo_id, repo_type="space", operations=operations,
                      commit_message=message or f"Siamese Digits {_version(root)}")
    return f"https://huggingface.co/spaces/{repo_id}"


def _version(root: Path) -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "(not a git checkout)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/space.py", description=__doc__.split("\n\n")[0])
    p.add_argument("space", nargs="?", help="the Space, user/name (or org/name)")
    p.add_argument("--dry-run", action="store_true", help="list the files and check the pins; upload nothing")
    p.add_argument("--private", action="store_true", help="create the Space private (if it does not exist yet)")
    args = p.parse_args(argv)
    if not args.dry_run and not (args.space and re.fullmatch(r"[\w.-]+/[\w.-]+", args.space)):
        p.error("name the Space as user/name (or list what would go with --dry-run)")
    files = space_files(ROOT)
    where = f"to https://huggingface.co/spaces/{args.space}" if args.space else "to a Space"
    print(f"{'Would upload' if args.dry_run else 'Uploading'} {where}:\n{listing(ROOT, files)}")
    try:
        problems = check_repo_pins(ROOT)
    except ImportError:  # packaging comes with the requirements; a bare Python may lack it
        problems = ["pins not checked: the `packaging` module is missing (make install)"]
    for line in problems:
        print(f"pin check: {line}", file=sys.stderr)
    if problems:
        return 1
    print("pin check: the front matter and requirements.txt match ZeroGPU's supported versions")
    if args.dry_run:
        return 0
    try:
        url = upload(args.space, ROOT, files, private=args.private)
    except Exception as e:  # no token, no rights, no network: say so, briefly
        print(f"upload failed: {type(e).__name__}: {e}\n(log in with `.venv/bin/hf auth login`, "
              f"or set HF_TOKEN to a token with write access)", file=sys.stderr)
        return 1
    print(f"done: {url} (builds in a few minutes; for a free GPU choose ZeroGPU under Settings > Hardware)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
