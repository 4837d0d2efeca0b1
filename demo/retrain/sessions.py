"""What retraining leaves behind: each browser session's retrained model (a Comparator
registered with demo.models.Models, plus its checkpoint file for download), freed when the
session ends or when more than `cap` sessions hold one."""
from __future__ import annotations

import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from siamese import Comparator
from siamese.checkpoint import write_checkpoint

from ..models import Models
from .record import RunRecord
from .views import describe


@dataclass
class SessionModel:
    key: str  # in demo.models.Models
    path: Path  # the checkpoint file offered for download
    summary: dict = field(default_factory=dict)  # loss, seconds, steps, accuracy, ... for the page
    record: RunRecord | None = None  # the run's curves and map, should a class want to see them


def checkpoint_name(cfg: dict, step: int) -> str:
    loss = re.sub(r"[^a-z]", "", str(cfg.get("loss", "model"))) or "model"
    return f"siamese_retrained_{loss}_{step}steps.pt"


class SessionModels:
    """Each session's retrained model, at most `cap` of them (least recently made go first).

    A model lives in `models` (a Comparator under a fresh key) and as a checkpoint file under
    `folder`; `release` removes both. The shipped model is never touched."""

    def __init__(self, models: Models, folder: str | Path | None = None, cap: int = 8):
        self.models, self.cap = models, cap
        self.folder = Path(folder or tempfile.mkdtemp(prefix="siamese-retrained-"))
        self._by_owner: OrderedDict[str, SessionModel] = OrderedDict()
        self._lock = threading.Lock()

    def register(self, owner: str, checkpoint: dict, summary: dict | None = None,
                 record: RunRecord | None = None) -> SessionModel:
        """Make `checkpoint` `owner`'s model (replacing its previous one): a Comparator in
        `models` and a file to download."""
        cmp = Comparator.from_checkpoint_dict(checkpoint)
        key = self.models.add(cmp, label=f"your retrained model ({describe(summary or {})}), for this tab only")
        name = checkpoint_name(checkpoint.get("train_config") or {}, int(checkpoint.get("step", 0)))
        path = write_checkpoint(self.folder / key / name, checkpoint)
        entry = SessionModel(key, path, dict(summary or {}), record)
        with self._lock:
            old = self._by_owner.pop(owner, None)
            self._by_owner[owner] = entry
            evicted = []
            while len(self._by_owner) > self.cap:
                evicted.append(self._by_owner.popitem(last=False)[1])
        for e in ([old] if old else []) + evicted:
            self._drop(e)
        return entry

    def get(self, owner: str) -> SessionModel | None:
        with self._lock:
            return self._by_owner.get(owner)

    def owns(self, owner: str, key: str | None) -> bool:
        """Whether `key` is `owner`'s live retrained model."""
        entry = self.get(owner)
        return entry is not None and entry.key == key

    def release(self, owner: str) -> None:
        with self._lock:
            entry = self._by_owner.pop(owner, None)
        if entry is not None:
            self._drop(entry)

    def __len__(self) -> int:
        return len(self._by_owner)

    def _drop(self, entry: SessionModel) -> None:
        self.models.remove(entry.key)
        shutil.rmtree(entry.path.parent, ignore_errors=True)
