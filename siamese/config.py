"""The two settings objects: what the network is (saved in every checkpoint) and how to train it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .data import NUM_CLASSES
from .omniglot import BACKGROUND_ALPHABETS

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
# "semihard" (a random same digit; the closest other digit farther than it, FaceNet); or "all":
# every pair of the batch at once (B(B-1)/2 pairs from B descriptors, same and different pairs
# weighted equally), far more signal per forward pass for a short run (bce and contrastive).
MINING = ("random", "hard", "semihard", "all")
# The learning rate over a run, after the linear warm-up: "cosine" decays it to 0 by the end;
# "constant" holds the peak rate (a symbols model learned more from it in a short run: issue 31).
SCHEDULES = ("cosine", "constant")
THRESHOLDS = ("val", "held-out")  # TrainConfig.threshold_on


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


# What a run trains on: MNIST's digits, Omniglot's background characters, or both (the
# characters' classes numbered after the ten digits, so no label is shared).
DATA = ("mnist", "omniglot", "mnist+omniglot")
ROTATIONS = (1, 2, 4)  # Omniglot characters turned by 360/R degrees, each turn a class of its own
# Background alphabets held out of Omniglot training by default, for validation: two scripts
# unlike the others kept (22 and 40 characters: 20-way episodes, like the runs), together of
# typical difficulty. 20-way one-shot by pixel distance in to_mnist's 28x28, within each
# background alphabet: Sanskrit 30%, Balinese 39%, Japanese 44%, Korean 46%, Latin 49%,
# Tagalog (17-way) 53%, Early_Aramaic 54%, Greek 55%; these two together 48%.
DEFAULT_VAL_ALPHABETS = ("Early_Aramaic", "Korean")


def check_alphabets(names) -> tuple[str, ...]:
    """Background alphabets to hold out, validated: known names (BACKGROUND_ALPHABETS), in that
    order, never all of them. ValueError otherwise."""
    names = [str(n) for n in names]
    bad = [n for n in names if n not in BACKGROUND_ALPHABETS]
    if bad:
        raise ValueError(f"unknown Omniglot background alphabet(s) {bad}; known: {', '.join(BACKGROUND_ALPHABETS)}")
    out = tuple(a for a in BACKGROUND_ALPHABETS if a in names)
    if len(out) == len(BACKGROUND_ALPHABETS):
        raise ValueError("cannot hold out every background alphabet: nothing would be left to train on")
    return out


def parse_alphabets(text: str) -> tuple[str, ...]:
    """'Early_Aramaic,Korean' ('' or 'none' for none) -> checked by `check_alphabets`."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    return check_alphabets(part.strip() for part in text.split(",") if part.strip())


def describe_data(train_config: dict) -> str:
    """What a run trained on, in words, from its TrainConfig dict (a checkpoint's
    `train_config`; older checkpoints, without `data`, trained on MNIST)."""
    data = train_config.get("data") or "mnist"
    parts = []
    if "mnist" in data:
        excluded = tuple(train_config.get("exclude_digits") or ())
        parts.append("MNIST digits" + (f" without {','.join(map(str, excluded))}" if excluded else ""))
    if "omniglot" in data:
        held = tuple(train_config.get("val_alphabets") or ())
        rot = int(train_config.get("rotations") or 1)
        text = "Omniglot background characters"
        text += f" x {rot} rotations" if rot > 1 else ""
        text += f" (held out for validation: {', '.join(held)})" if held else " (all 8 alphabets)"
        parts.append(text)
    return " + ".join(parts)


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
    schedule: str = "cosine"  # cosine | constant: the rate after the warm-up (SCHEDULES)
    loss: str = "bce"  # bce | contrastive | triplet | supcon (its model always normalises)
    margin: float = 1.0  # contrastive and triplet margin, in embedding distance units
    temperature: float = 0.1  # supcon: the softmax temperature over cosine similarities
    augment: bool = True  # small random affine jitter of the training digits
    # The jitter's ranges (half-widths of uniform draws; augment.distort): the defaults are the
    # blog-era jitter; stretch, shear and stroke add Koch et al.'s distortions and stroke width.
    aug_degrees: float = 10.0  # rotation
    aug_scale: float = 0.1  # overall scale 1 +- this
    aug_stretch: float = 0.0  # x scaled by a further 1 +- this, y by its inverse
    aug_shear: float = 0.0  # x += this * y at most (Koch: 0.3)
    aug_shift: float = 2.0  # pixels each way
    aug_stroke: float = 0.0  # share of the way to a 3x3 dilation or erosion of the strokes
    amp: str = "auto"  # auto | on | off: bfloat16 autocast (auto: CUDA, or a CPU where it measures faster)
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
    mining: str = "random"  # random | hard | semihard | all: see MINING
    data: str = "mnist"  # mnist | omniglot | mnist+omniglot: see DATA
    rotations: int = 1  # Omniglot: 1, 2 or 4 turns of each character, each a class (ROTATIONS)
    # Omniglot alphabets kept out of training: the threshold and the validation score (20-way
    # within-alphabet one-shot episodes, like the runs) come from them. None: the default
    # (DEFAULT_VAL_ALPHABETS) with Omniglot data, none without; () holds none out.
    val_alphabets: tuple[str, ...] | None = None
    # Class-balanced batches: batch_size / per_class classes with per_class images each
    # (pairs.ClassBatches); None: a slice of the shuffled training set, the blog's way.
    per_class: int | None = None
    # Omniglot with held-out alphabets: end with the weights of the progress event whose
    # validation one-shot score was best (early stopping on held-out alphabets, never on the
    # 20 runs), not those of the last step.
    keep_best: bool = False
    # MNIST + Omniglot with per_class: each batch holds this many (seen) digit classes, drawn
    # apart from the characters, whose hundreds of classes otherwise leave a batch less than one
    # digit class on average (64 of 727 classes drawn: 0.6); 0: digits and characters alike.
    digit_classes: int = 0
    # Where the threshold (and the calibration) come from: "val", the validation split (MNIST:
    # held-out images of the seen digits; Omniglot: the held-out alphabets), or "held-out",
    # pairs of the held-out alphabets' validation episodes: classes the run never trained on,
    # like digits it never saw (THRESHOLDS).
    threshold_on: str = "val"

    def __post_init__(self):
        self.exclude_digits = check_digits(self.exclude_digits)
        if self.data not in DATA:
            raise ValueError(f"data must be one of {DATA}, not {self.data!r}")
        if self.rotations not in ROTATIONS:
            raise ValueError(f"rotations must be one of {ROTATIONS}, not {self.rotations!r}")
        if "omniglot" in self.data:
            held = DEFAULT_VAL_ALPHABETS if self.val_alphabets is None else self.val_alphabets
            self.val_alphabets = check_alphabets(held)
        elif self.rotations != 1 or self.val_alphabets:
            raise ValueError("rotations and val_alphabets apply to Omniglot data only")
        else:
            self.val_alphabets = ()
        if self.per_class is not None and not (2 <= self.per_class <= self.batch_size // 2
                                               and self.batch_size % self.per_class == 0):
            raise ValueError(f"per_class must divide batch_size {self.batch_size} into two or more "
                             f"classes of at least 2 images, not {self.per_class}")
        if self.digit_classes and not (self.data == "mnist+omniglot" and self.per_class
                                       and 0 < self.digit_classes < self.batch_size // self.per_class):
            raise ValueError(f"digit_classes ({self.digit_classes}) takes MNIST + Omniglot in class-balanced batches "
                             "(per_class), and fewer digit classes than a batch holds classes")
        if self.threshold_on not in THRESHOLDS:
            raise ValueError(f"threshold_on must be one of {THRESHOLDS}, not {self.threshold_on!r}")
        if self.threshold_on == "held-out" and not self.val_alphabets:
            raise ValueError("threshold_on 'held-out' takes the held-out alphabets' pairs: it needs Omniglot data "
                             "with val_alphabets")
        if self.keep_best and not self.val_alphabets:
            raise ValueError("keep_best chooses by the held-out alphabets' one-shot score: it needs Omniglot "
                             "data with val_alphabets")
        if self.data == "omniglot" and self.exclude_digits:
            raise ValueError("exclude_digits needs MNIST data: an Omniglot-only run sees no digit anyway")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {self.loss!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, not {self.temperature}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, not {self.schedule!r}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must be a fraction of the run in [0, 1), not {self.warmup}")
        if self.mining not in MINING:
            raise ValueError(f"mining must be one of {MINING}, not {self.mining!r}")
        if self.mining == "all" and self.loss not in ("bce", "contrastive"):
            raise ValueError(f"mining 'all' pairs every item with every other: it suits bce and contrastive, "
                             f"not {self.loss}")
        if self.batch_size < 4:
            raise ValueError("batch_size must be at least 4")
        for name in ("aug_degrees", "aug_shear", "aug_shift"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} is a half-width: it must be >= 0, not {getattr(self, name)}")
        for name in ("aug_scale", "aug_stretch"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), not {getattr(self, name)}")
        if not 0 <= self.aug_stroke <= 1:
            raise ValueError(f"aug_stroke must be in [0, 1], not {self.aug_stroke}")

    def distortions(self) -> dict:
        """The jitter's ranges as `augment.distort` takes them."""
        return {"degrees": self.aug_degrees, "scale": self.aug_scale, "stretch": self.aug_stretch,
                "shear": self.aug_shear, "shift": self.aug_shift, "stroke": self.aug_stroke}

    def to_dict(self) -> dict:
        return asdict(self)


# Named settings the page's Retrain tab (and scripts/unseen_digits.py) can offer: ModelConfig
# and TrainConfig fields over their defaults. "blog" is the shipped network; "generalise" is the
# configuration that carried verification best to digits it never saw (docs/research.md):
# unit-length descriptors without the last ReLU, Euclidean distance, contrastive loss on
# batch-hard pairs. It ranks unseen pairs better than the blog (AUC 0.74 against 0.61) but is far
# from the target.
PRESETS: dict[str, dict] = {
    "blog": {"model": {}, "train": {}},
    "generalise": {"model": {"normalize": True, "final_relu": False},
                   "train": {"loss": "contrastive", "margin": 1.0, "mining": "hard"}},
}


def short_run(loss: str) -> dict:
    """TrainConfig fields for a run of a minute or less from scratch (the page's runs, `bench
    --retrain-seconds`): batch 128 (more steps of fewer pairs learn more in a short run), every
    pair of the batch for the losses that take pairs (bce, contrastive: B(B-1)/2 pairs per step
    instead of 2B, for the price of one (B, B) matrix), and no augmentation (in 30 s nothing
    overfits, and the jitter costs steps). Measured at 300 steps, batch 128, bf16, the blog's
    network and loss: fixed test pair accuracy 0.946 (random partners, jitter), 0.969 (every
    pair, jitter), 0.983 (every pair, no jitter)."""
    fields = {"batch_size": 128, "augment": False}
    if loss in ("bce", "contrastive"):
        fields["mining"] = "all"
    return fields


def preset(name: str) -> tuple[ModelConfig, dict]:
    """(ModelConfig, TrainConfig fields) of a preset; KeyError names the known ones."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    p = PRESETS[name]
    return ModelConfig(**p["model"]), dict(p["train"])
