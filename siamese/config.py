"""The two settings objects: what the network is (saved in every checkpoint) and how to train it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .data import NUM_CLASSES

METRICS = ("head", "euclidean")


@dataclass
class ModelConfig:
    """Architecture of the siamese network. The defaults are the blog's network."""

    channels: tuple[int, int, int] = (64, 128, 256)  # conv 7x7 -> pool -> conv 5x5 -> conv 5x5
    embedding_dim: int = 512  # the descriptor; the head sees (a - b)^2 of two of them
    # How two descriptors are compared. "head": the blog head's weighted squared difference
    # (what a bce-trained model learned); "euclidean": plain distance (contrastive, triplet).
    metric: str = "head"
    # Options for descriptors that carry over to digits never trained on (issue 14); the
    # defaults keep the blog's network exactly.
    batchnorm: bool = False  # BatchNorm2d after each convolution (before its ReLU)
    final_relu: bool = True  # the ReLU after the last linear layer (non-negative descriptors)
    normalize: bool = False  # L2-normalise descriptors: distances in [0, 2], any digit alike

    def __post_init__(self):
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, not {self.metric!r}")
        if self.embedding_dim < 1:
            raise ValueError(f"embedding_dim must be positive, not {self.embedding_dim}")

    def to_dict(self) -> dict:
        return {"channels": list(self.channels), "embedding_dim": self.embedding_dim,
                "metric": self.metric, "batchnorm": self.batchnorm, "final_relu": self.final_relu,
                "normalize": self.normalize}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")
        d = dict(d)
        if "channels" in d:
            d["channels"] = tuple(int(c) for c in d["channels"])
        return cls(**d)


LOSSES = ("bce", "contrastive", "triplet", "supcon")
# How each anchor's partners are picked inside a batch (siamese.mining): "random" (the blog's
# way), "hard" (the farthest same digit and the closest other digit, Hermans et al. 2017) or
# "semihard" (a random same digit; the closest other digit farther than it, FaceNet).
MINING = ("random", "hard", "semihard")


def check_digits(digits) -> tuple[int, ...]:
    """Digits to hold out of training, validated: a sorted tuple of distinct digits 0-9, never
    all ten (a model must see some digits to learn to compare). ValueError otherwise."""
    try:
        out = tuple(sorted({int(d) for d in digits}))
    except (TypeError, ValueError):
        raise ValueError(f"digits to exclude must be integers 0-9, not {digits!r}") from None
    bad = [d for d in out if not 0 <= d < NUM_CLASSES]
    if bad:
        raise ValueError(f"digits to exclude must be 0-{NUM_CLASSES - 1}, not {bad}")
    if len(out) >= NUM_CLASSES:
        raise ValueError("cannot exclude all ten digits: nothing would be left to train on")
    return out


def parse_digits(text: str) -> tuple[int, ...]:
    """'7,8,9' (spaces allowed; '' or 'none' for no digit) -> (7, 8, 9), checked by
    `check_digits`. For the --exclude-digits flags."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    try:
        digits = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"expected digits separated by commas, like 7,8,9; not {text!r}") from None
    return check_digits(digits)


def metric_for_loss(loss: str) -> str:
    return "head" if loss == "bce" else "euclidean"


@dataclass
class TrainConfig:
    """How one training run goes. The CLI fills it from argparse; the page from its controls."""

    data_dir: str | None = None
    device: str = "auto"  # auto | cuda | cpu
    epochs: float = 1.0  # passes over the training split, counted in anchor images
    max_steps: int | None = None
    max_seconds: float | None = None
    batch_size: int = 256  # images per step; each yields one positive and one negative pair
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: float = 0.05  # fraction of the run spent warming the learning rate up
    loss: str = "bce"  # bce | contrastive | triplet | supcon (its model always normalises)
    margin: float = 1.0  # contrastive and triplet margin, in embedding distance units
    temperature: float = 0.1  # supcon: the softmax temperature over cosine similarities
    augment: bool = True  # small random affine jitter of the training digits
    amp: str = "auto"  # auto | on | off: bfloat16 autocast (auto = on for CUDA and AMX CPUs)
    channels_last: bool = True
    compile: bool = False
    threads: int | None = None  # torch CPU threads; None keeps torch's default
    val_size: int = 5000  # images held out of the training set to pick the threshold
    eval_size: int = 1000  # test images (2 pairs each) scored by the progress probe
    eval_every: float = 5.0  # seconds between progress events
    # At most this share of the run's wall time goes into the probe (accuracy, map): on a busy
    # machine, where a probe takes longer, events in between carry loss and speed only.
    probe_share: float = 0.25
    seed: int = 0
    out: str | None = None
    # Digits removed from the training set and from the validation split (so the threshold is
    # chosen on seen digits only): the model never sees them until it is tested on them.
    exclude_digits: tuple[int, ...] = ()
    mining: str = "random"  # random | hard | semihard: see MINING

    def __post_init__(self):
        self.exclude_digits = check_digits(self.exclude_digits)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {self.loss!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, not {self.temperature}")
        if self.mining not in MINING:
            raise ValueError(f"mining must be one of {MINING}, not {self.mining!r}")
        if self.batch_size < 4:
            raise ValueError("batch_size must be at least 4")

    def to_dict(self) -> dict:
        return asdict(self)


# Named settings the page's Retrain tab (and scripts/unseen_digits.py) can offer: ModelConfig
# and TrainConfig fields over their defaults. "blog" is the shipped network; "generalise" is the
# configuration that carried verification best to digits it never saw (README, "Digits it never
# saw"): unit-length descriptors without the last ReLU, Euclidean distance, contrastive loss on
# batch-hard pairs. It ranks unseen pairs better than the blog (AUC 0.74 against 0.61) but is far
# from the target.
PRESETS: dict[str, dict] = {
    "blog": {"model": {}, "train": {}},
    "generalise": {"model": {"normalize": True, "final_relu": False},
                   "train": {"loss": "contrastive", "margin": 1.0, "mining": "hard"}},
}


def preset(name: str) -> tuple[ModelConfig, dict]:
    """(ModelConfig, TrainConfig fields) of a preset; KeyError names the known ones."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    p = PRESETS[name]
    return ModelConfig(**p["model"]), dict(p["train"])
