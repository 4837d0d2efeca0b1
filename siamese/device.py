"""Where tensors run and in which precision: device choice and bfloat16 autocast, for training,
evaluation and inference alike."""
from __future__ import annotations

import os
import time
from contextlib import nullcontext
from pathlib import Path

import torch


def pick_device(name: str = "auto") -> torch.device:
    """'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'. Raises ValueError when
    CUDA is asked for and absent, or for a name torch does not know."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but CUDA is not available")
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"unknown device {name!r} ({e})") from None


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX bfloat16 tiles (Linux; elsewhere False)."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def use_amp(setting: str, device: torch.device) -> bool:
    """bfloat16 autocast: always worth it on CUDA; on CPU only with AMX (measured 2.6x faster
    here; without AMX bf16 convolutions are slower than fp32). setting: auto | on | off."""
    if setting in ("on", "off"):
        return setting == "on"
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_amx())


def autocast(device, enabled: bool):
    """bfloat16 autocast on `device` when enabled, else a context that does nothing."""
    if not enabled:
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


class CoreShare:
    """How many cores the rest of the machine leaves to this process, measured between calls
    from /proc (Linux; elsewhere it always answers the maximum).

    Why: torch's OpenMP threads wait for each other many times per step, so a thread that
    another busy process keeps off its core stalls them all. Measured on a 2-core machine with
    one other process busy: 2 threads 240-400 pairs/s, 1 thread 2,700 pairs/s; alone, 2 threads
    do twice what 1 does. So a job that shares its machine (with a web server, say) should use
    the cores that are idle, and only those.
    """

    def __init__(self, max_threads: int):
        self.max_threads = max(1, int(max_threads))
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        """(now, CPU ticks the whole machine was busy, ticks this process was busy), or None."""
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            ticks = [float(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
            return time.monotonic(), sum(ticks) - ticks[3] - ticks[4], float(own[11]) + float(own[12])
        except (OSError, IndexError, ValueError):
            return None

    def others(self) -> float | None:
        """Cores the other processes kept busy since the last call (None: unknown)."""
        now, last = self._read(), self._last
        self._last = now
        if now is None or last is None or now[0] <= last[0]:
            return None
        busy = (now[1] - last[1]) - (now[2] - last[2])  # ticks not ours
        return max(0.0, busy / self._tick / (now[0] - last[0]))

    def threads(self) -> int:
        """Threads to use until the next call: the cores others left idle since the last call
        (a core at most a quarter busy still counts as free), at least 1."""
        others = self.others()
        if others is None:
            return self.max_threads
        return max(1, min(self.max_threads, int(self.max_threads - others + 0.75)))
