"""What retraining leaves behind: each browser session's retrained model (a Comparator
registered with demo.models.Models, plus its checkpoint file for download).

A model outlives its tab for a while (`keep_after_close`): a teacher who presses F5 gets it
back (the page keeps its key in the browser, `adopt` hands it to the new tab). At most `cap`
models are kept; past that the longest-closed, then the least recently made, leave, and the
page that shows one is told why (`Models.remove(key, reason)`)."""
from __future__ import annotations

import re
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from siamese import Comparator
from siamese.checkpoint import write_checkpoint

from ..models import Models
from ..scratch import scratch_folder
from .record import RunRecord
from .views import describe

KEEP_AFTER_CLOSE = 900.0  # seconds a closed tab's model waits to be taken back (a reload, say)


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
    """Each session's retrained model, at most `cap` of them, open tabs' and recently closed
    tabs' together.

    A model lives in `models` (a Comparator under a fresh key) and as a checkpoint file under
    `folder`; dropping it removes both. The shipped model is never touched."""

    def __init__(self, models: Models, folder: str | Path | None = None, cap: int = 8,
                 keep_after_close: float = KEEP_AFTER_CLOSE, clock=time.monotonic):
        self.models, self.cap, self.keep_after_close, self._clock = models, cap, keep_after_close, clock
        self.folder = Path(folder or scratch_folder("siamese-retrained-"))
        self._by_owner: OrderedDict[str, SessionModel] = OrderedDict()  # least recently made first
        self._closed: OrderedDict[str, tuple[SessionModel, float]] = OrderedDict()  # key -> (entry, when)
        self._lock = threading.Lock()

    def register(self, owner: str, checkpoint: dict, summary: dict | None = None,
                 record: RunRecord | None = None) -> SessionModel:
        """Make `checkpoint` `owner`'s model (replacing its previous one): a Comparator in
        `models` and a file to download."""
        cmp = Comparator.from_checkpoint_dict(checkpoint)
        key = self.models.add(cmp, label=f"your retrained model ({describe(summary or {})})")
        name = checkpoint_name(checkpoint.get("train_config") or {}, int(checkpoint.get("step", 0)))
        path = write_checkpoint(self.folder / key / name, checkpoint)
        entry = SessionModel(key, path, dict(summary or {}), record)
        with self._lock:
            old = self._by_owner.pop(owner, None)
            self._by_owner[owner] = entry
            drop = [(old, "a newer run in the same tab replaced it")] if old else []
            drop += self._over_cap()
        self._drop_all(drop)
        return entry

    def get(self, owner: str) -> SessionModel | None:
        with self._lock:
            return self._by_owner.get(owner)

    def owns(self, owner: str, key: str | None) -> bool:
        """Whether `key` is `owner`'s live retrained model."""
        entry = self.get(owner)
        return entry is not None and entry.key == key

    def release(self, owner: str) -> None:
        """`owner`'s tab closed: its model waits `keep_after_close` seconds to be adopted."""
        with self._lock:
            entry = self._by_owner.pop(owner, None)
            if entry is not None:
                self._closed[entry.key] = (entry, self._clock())
            drop = self._expired()
        self._drop_all(drop)

    def adopt(self, owner: str, key: str | None) -> SessionModel | None:
        """A tab opened with `key` kept in its browser (a reload): that model becomes `owner`'s
        again, from a closed tab or from another open tab of the same browser (the latest tab
        owns it). None when no retrained model has that key (any more)."""
        with self._lock:
            drop = self._expired()
            found = self._closed.pop(key, (None, 0.0))[0] if key else None
            if found is None and key:
                prev = next((o for o, e in self._by_owner.items() if e.key == key), None)
                found = self._by_owner.pop(prev) if prev is not None else None
            if found is not None:
                mine = self._by_owner.pop(owner, None)
                if mine is not None and mine.key != found.key:
                    drop.append((mine, "the tab took back its earlier model"))
                self._by_owner[owner] = found
        self._drop_all(drop)
        return found

    def __len__(self) -> int:
        return len(self._by_owner) + len(self._closed)

    def __contains__(self, key: str) -> bool:
        """Whether `key` is a retrained model kept here (an open or a recently closed tab's)."""
        with self._lock:
            return key in self._closed or any(e.key == key for e in self._by_owner.values())

    # -- leaving (under the lock: what to drop; outside it: dropping) --------------------------
    def _expired(self) -> list[tuple[SessionModel, str]]:
        now, out = self._clock(), []
        minutes = f"{self.keep_after_close / 60:.0f} minutes"
        for key, (entry, when) in list(self._closed.items()):
            if now - when >= self.keep_after_close:
                del self._closed[key]
                out.append((entry, f"its tab was closed more than {minutes} ago"))
        return out

    def _over_cap(self) -> list[tuple[SessionModel, str]]:
        out = self._expired()
        why = (f"the server keeps {self.cap} retrained models at most, and this one was the oldest "
               f"(retrain it, or download the checkpoint next time)")
        while len(self._by_owner) + len(self._closed) > self.cap:
            if self._closed:
                out.append((self._closed.popitem(last=False)[1][0], why))
            else:
                out.append((self._by_owner.popitem(last=False)[1], why))
        return out

    def _drop_all(self, entries) -> None:
        for entry, why in entries:
            self.models.remove(entry.key, why)
            shutil.rmtree(entry.path.parent, ignore_errors=True)
