"""MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024), offline.

A re-implementation of ``mnist1d.data.make_dataset`` (package ``mnist1d`` 0.0.2) that needs
neither the network nor matplotlib: each of the ten 12-point digit templates is padded with
36-60 zeros, dilated to 72 points, scaled, circularly translated, filled with correlated noise
where it is zero, perturbed with i.i.d. noise, sheared and resampled to 40 points. The random
calls are made in the reference order on a private ``numpy.random.RandomState(seed)``, so the
default arguments reproduce the reference dataset (4000 train / 1000 test samples, 40 features,
10 classes, standardised with the mean and std of all 5000 samples).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter


@dataclass(frozen=True)
class MNIST1DConfig:
    """Generation parameters; the defaults are ``mnist1d.data.get_dataset_args()``."""

    num_samples: int = 5000
    train_split: float = 0.8
    template_len: int = 12
    padding: tuple[int, int] = (36, 60)
    scale_coeff: float = 0.4
    max_translation: int = 48
    corr_noise_scale: float = 0.25
    iid_noise_scale: float = 2e-2
    shear_scale: float = 0.75
    shuffle_seq: bool = False
    final_seq_length: int = 40
    seed: int = 42

    def __post_init__(self):
        object.__setattr__(self, "padding", tuple(int(p) for p in self.padding))
        if self.num_samples < 10:
            raise ValueError(f"num_samples must be >= 10 (one per class), got {self.num_samples}")
        if not 0.0 < self.train_split < 1.0:
            raise ValueError(f"train_split must lie in (0, 1), got {self.train_split}")
        low, high = self.padding
        if not 0 <= low <= high:
            raise ValueError(
                f"padding must be (low, high) with 0 <= low <= high, got {self.padding}"
            )
        if not 1 <= self.max_translation <= self.template_len + high:
            raise ValueError(
                f"max_translation must lie in [1, template_len + padding[1]], "
                f"got {self.max_translation}"
            )
        if self.final_seq_length < 2:
            raise ValueError(f"final_seq_length must be >= 2, got {self.final_seq_length}")


def mnist1d_templates() -> np.ndarray:
    """The ten digit templates (10, 12): whitened, shifted to start at 0, divided by 6."""
    x = np.asarray(
        [
            [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
            [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
            [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
            [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
            [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
            [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
            [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
            [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
            [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
            [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
        ]
    )
    x -= x.mean(1, keepdims=True)
    x /= x.std(1, keepdims=True)
    x -= x[:, :1]
    return x / 6.0


def _resample(x: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of ``x`` onto ``n`` equispaced points of [0, 1]."""
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(x)), x)


def _transform(x: np.ndarray, cfg: MNIST1DConfig, rng: np.random.RandomState) -> np.ndarray:
    low, high = cfg.padding
    pad = low + int(rng.rand() * (high - low + 1))
    x = np.concatenate([x + 1e-8, np.zeros(pad)])
    x = _resample(x, cfg.template_len + high)
    x = x * (1 + cfg.scale_coeff * (rng.rand() - 0.5))
    k = rng.choice(cfg.max_translation)
    x = np.concatenate([x[-k:], x[:-k]])  # k == 0 gives x unchanged, as in the reference
    mask = x != 0
    corr = gaussian_filter(cfg.corr_noise_scale * rng.randn(*x.shape), 2)
    x = mask * x + (1 - mask) * corr
    x = x + cfg.iid_noise_scale * rng.randn(*x.shape)
    x = x - cfg.shear_scale * (rng.rand() - 0.5) * np.linspace(-0.5, 0.5, len(x))
    return _resample(x, cfg.final_seq_length)


@lru_cache(maxsize=4)
def _generate(cfg: MNIST1DConfig) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(cfg.seed)
    templates = mnist1d_templates()
    per_class = cfg.num_samples // len(templates)
    xs, ys = [], []
    for label in range(len(templates)):
        for _ in range(per_class):
            xs.append(_transform(templates[label], cfg, rng))
            ys.append(label)
    order = rng.permutation(len(ys))
    xs = np.stack(xs)[order]
    ys = np.asarray(ys, dtype=np.int64)[order]
    if cfg.shuffle_seq:
        xs = xs[..., rng.permutation(cfg.final_seq_length)]
    xs = (xs - xs.mean()) / xs.std()
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


def make_mnist1d(split: str = "train", config: MNIST1DConfig | None = None, **kwargs):
    """MNIST-1D samples (float64 (N, 40), int64 labels (N,)) of ``split`` in train/test/all.

    ``kwargs`` override fields of :class:`MNIST1DConfig` (e.g. ``seed=0``, ``num_samples=10000``).
    With the defaults this is the reference dataset: train = the first 80 % of the shuffled
    5000 samples, test = the rest. Results are cached per configuration (returned arrays are
    fresh copies).
    """
    if config is None:
        config = MNIST1DConfig(**kwargs)
    elif kwargs:
        config = MNIST1DConfig(**{**asdict(config), **kwargs})
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all' for mnist1d, got {split!r}")
    xs, ys = _generate(config)
    cut = int(len(ys) * config.train_split)
    sl = {"train": slice(0, cut), "test": slice(cut, None), "all": slice(None)}[split]
    return xs[sl].copy(), ys[sl].copy()
