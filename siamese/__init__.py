"""Siamese networks on MNIST digits: model, pairs, losses, training, evaluation, inference."""
__version__ = "0.1.0"

from .compare import Comparator, Comparison  # noqa: E402
from .config import ModelConfig, TrainConfig  # noqa: E402
from .preprocess import BlankImageError, ImageError, to_mnist  # noqa: E402

__all__ = [
    "Comparator",
    "Comparison",
    "ModelConfig",
    "TrainConfig",
    "to_mnist",
    "ImageError",
    "BlankImageError",
    "__version__",
]
