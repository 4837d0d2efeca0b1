"""The one checkpoint format and the one loader everybody uses (training, evaluation, the page,
tests). A checkpoint is a plain dict of tensors and Python primitives, so it loads with
`torch.load(weights_only=True)`: no pickled code runs."""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import torch

from . import __version__
from .config import ModelConfig
from .model import SiameseNet

FORMAT = 1


class CheckpointError(ValueError):
    """The file is not a usable Siamese Digits checkpoint; the message says why."""


def make_checkpoint(model: SiameseNet, *, train_config: dict | None = None,
                    metrics: dict | None = None, threshold: float | None = None,
                    calibration: dict | None = None, step: int = 0) -> dict:
    """The checkpoint dict: weights (fp32, CPU), configs, metrics, threshold, versions."""
    import torchvision

    state = {k: v.detach().float().cpu().contiguous() for k, v in _unwrap(model).state_dict().items()}
    return {
        "format": FORMAT,
        "model_config": _unwrap(model).config.to_dict(),
        "train_config": dict(train_config or {}),
        "state_dict": state,
        "metrics": dict(metrics or {}),
        "threshold": None if threshold is None else float(threshold),
        "calibration": dict(calibration or {}),
        "step": int(step),
        "versions": {"siamese": __version__, "torch": str(torch.__version__),
                     "torchvision": str(torchvision.__version__)},
    }


def write_checkpoint(path, ckpt: dict) -> Path:
    """Write atomically: a temporary file in the same folder, fsync, then rename over `path`.
    A crash mid-save leaves any previous file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a checkpoint is an ordinary file
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(ckpt, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def checkpoint_bytes(ckpt: dict) -> bytes:
    """A checkpoint dict as the bytes of its file (to send it between processes)."""
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    return buf.getvalue()


def checkpoint_from_bytes(data: bytes) -> dict:
    """checkpoint_bytes, undone; with torch.load(weights_only=True), so no pickled code runs."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def save_checkpoint(path, model: SiameseNet, **kwargs) -> Path:
    """make_checkpoint + write_checkpoint."""
    return write_checkpoint(path, make_checkpoint(model, **kwargs))


def model_from_checkpoint(ckpt, device="cpu") -> SiameseNet:
    """Rebuild and validate the model of a checkpoint dict (architecture, shapes, finiteness)."""
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "model_config" not in ckpt:
        raise CheckpointError("not a Siamese Digits checkpoint (missing state_dict/model_config)")
    if ckpt.get("format") != FORMAT:
        raise CheckpointError(f"unsupported checkpoint format {ckpt.get('format')!r}")
    try:
        model = SiameseNet(ModelConfig.from_dict(ckpt["model_config"]))
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except (TypeError, ValueError, RuntimeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint does not fit the architecture: {str(e)[:300]}") from None
    for name, t in model.state_dict().items():
        if not torch.isfinite(t).all():
            raise CheckpointError(f"checkpoint weights contain NaN or inf ({name})")
    return model.to(device).eval()


def load_checkpoint(source, device="cpu") -> tuple[SiameseNet, dict]:
    """Load a checkpoint (path or file object) -> (model in eval mode on `device`, the dict).

    Refuses anything that is not a checkpoint of this format, pickles carrying code included,
    with CheckpointError.
    """
    try:
        ckpt = torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # UnpicklingError for code, RuntimeError/EOFError for garbage
        raise CheckpointError(f"not a loadable checkpoint ({type(e).__name__}: {str(e)[:200]})") from None
    return model_from_checkpoint(ckpt, device), ckpt


def excluded_digits(ckpt: dict) -> tuple[int, ...]:
    """The digits a checkpoint's model was trained without (`TrainConfig.exclude_digits`), ()
    for one that saw all ten (checkpoints from before the option included)."""
    return tuple(sorted(int(d) for d in (ckpt.get("train_config") or {}).get("exclude_digits") or ()))


def _unwrap(model):
    return getattr(model, "_orig_mod", model)  # torch.compile wraps the module
