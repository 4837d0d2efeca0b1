"""The server's temporary files (retrained checkpoints, weights for browsers, class models, stop
files): folders inside one folder per server process, removed when that process exits.

    folder = scratch_folder("siamese-retrained-")   # /tmp/siamese-server-XXXX/siamese-retrained-YYYY

Why one root: each part made its own folder under the system's temp dir and none removed it, so
every start of the page (and every test session) left up to 70 MB behind; a school server that
restarts nightly would fill its disk.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

_root: Path | None = None
_lock = threading.Lock()


def _remove(root: Path, pid: int) -> None:
    if os.getpid() == pid:  # a forked child that exits normally leaves its parent's files alone
        shutil.rmtree(root, ignore_errors=True)


def remove_all() -> None:
    """Remove this process's scratch root now: for processes that end without their exit hooks
    (pytest-xdist's workers), at the end of their work."""
    with _lock:
        if _root is not None:
            _remove(_root, os.getpid())


def scratch_folder(prefix: str) -> Path:
    """A new folder under this process's scratch root (made on first use, removed at exit)."""
    global _root
    with _lock:
        if _root is None:
            _root = Path(tempfile.mkdtemp(prefix="siamese-server-"))
            atexit.register(_remove, _root, os.getpid())
        return Path(tempfile.mkdtemp(prefix=prefix, dir=_root))
