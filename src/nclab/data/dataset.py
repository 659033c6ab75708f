"""The :class:`Dataset` record: features, labels, class count and provenance, immutable.

Every transforming method returns a new :class:`Dataset` and appends a line to
``meta["transforms"]`` so that a run can record exactly what it trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import torch

from . import transforms as T


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A labelled dataset in the project convention.

    Attributes:
        X: features (N, D), floating, rows = samples (images are stored flattened, C-major).
        y: labels (N,), int64 in [0, K).
        K: number of classes (classes may be empty after subsetting).
        name, split: provenance, e.g. ``"fashion-mnist"``, ``"train"``.
        classes: optional class names (length K).
        image_shape: ``(C, H, W)`` for image data (``X.shape[1] == C*H*W``), else None.
        meta: read-only mapping; ``meta["transforms"]`` lists the transforms applied, other keys
            hold their statistics (``standardize_mean``/``standardize_std``, ``input_scale``...).
    """

    X: torch.Tensor
    y: torch.Tensor
    K: int
    name: str = "dataset"
    split: str = "train"
    classes: tuple[str, ...] | None = None
    image_shape: tuple[int, ...] | None = None
    meta: Any = field(default_factory=dict)

    def __post_init__(self):
        X, y = self.X, self.y
        if not isinstance(X, torch.Tensor) or X.ndim != 2 or not X.is_floating_point():
            raise ValueError("X must be a 2-d floating torch.Tensor (N, D)")
        if not isinstance(y, torch.Tensor) or y.ndim != 1 or y.dtype != torch.int64:
            raise ValueError("y must be a 1-d int64 torch.Tensor (N,)")
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
        if int(self.K) < 1:
            raise ValueError(f"K must be >= 1, got {self.K}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.K):
            raise ValueError(
                f"labels must lie in [0, K={self.K}), got range [{int(y.min())}, {int(y.max())}]"
            )
        if self.classes is not None and len(self.classes) != self.K:
            raise ValueError(f"classes has {len(self.classes)} names but K={self.K}")
        if self.image_shape is not None:
            numel = 1
            for s in self.image_shape:
                numel *= int(s)
            if numel != X.shape[1]:
                raise ValueError(f"image_shape {self.image_shape} does not match D={X.shape[1]}")
        meta = dict(self.meta)
        meta["transforms"] = tuple(meta.get("transforms", ()))
        object.__setattr__(self, "K", int(self.K))
        object.__setattr__(self, "meta", MappingProxyType(meta))

    # ------------------------------------------------------------------ sizes
    @property
    def N(self) -> int:
        """Number of samples."""
        return self.X.shape[0]

    @property
    def D(self) -> int:
        """Input dimension."""
        return self.X.shape[1]

    @property
    def class_counts(self) -> torch.Tensor:
        """Samples per class, int64 (K,)."""
        return torch.bincount(self.y, minlength=self.K)

    @property
    def is_balanced(self) -> bool:
        """True when every class has the same (non-zero) number of samples."""
        counts = self.class_counts
        return bool((counts == counts[0]).all()) and int(counts[0]) > 0

    def summary(self) -> str:
        """One line: name, split, N, D, K, image shape, dtype and class counts."""
        counts = self.class_counts.tolist()
        if self.is_balanced:
            count_txt = f"balanced, {counts[0]} per class"
        else:
            count_txt = f"counts {counts}"
        shape = "" if self.image_shape is None else " image " + "x".join(map(str, self.image_shape))
        return (
            f"{self.name}[{self.split}]: N={self.N} D={self.D} K={self.K}{shape} "
            f"{str(self.X.dtype).replace('torch.', '')}; {count_txt}"
        )

    def __repr__(self) -> str:
        return f"Dataset({self.summary()})"

    # ------------------------------------------------------------------ views
    def images(self) -> torch.Tensor:
        """Features reshaped to ``(N, *image_shape)`` (a view) for convolutional models."""
        if self.image_shape is None:
            raise ValueError(f"{self.name} has no image_shape; its samples are plain vectors")
        return self.X.reshape(self.N, *self.image_shape)

    def targets(self, kind: str = "one_hot", *, dtype: torch.dtype | None = None):
        """Regression targets: ``"one_hot"`` (N, K), ``"centred"`` (Xu et al. ẽ_c, (N, K)) or
        ``"signed"`` (binary ±1, (N,)). ``dtype`` defaults to ``X.dtype``."""
        return T.encode_targets(self.y, self.K, kind, dtype=dtype or self.X.dtype).to(
            self.X.device
        )

    # ------------------------------------------------------------------ transforms
    def _derive(self, note: str, **changes) -> Dataset:
        meta = dict(self.meta)
        meta.update(changes.pop("meta", {}))
        meta["transforms"] = (*self.meta["transforms"], note)
        return replace(self, meta=meta, **changes)

    def subset(self, index, note: str | None = None) -> Dataset:
        """Samples ``index`` (a 1-d int tensor or sequence), same K."""
        index = torch.as_tensor(index, dtype=torch.long, device=self.y.device)
        return self._derive(
            note or f"subset({index.numel()})", X=self.X[index], y=self.y[index]
        )

    def subsample(self, n_per_class: int, seed: int = 0) -> Dataset:
        """``n_per_class`` samples of every class, seeded, in their original relative order."""
        idx = T.class_balanced_indices(self.y, n_per_class, self.K, seed)
        return self.subset(idx, f"subsample(n_per_class={n_per_class}, seed={seed})")

    def select_classes(self, classes) -> Dataset:
        """Keep the listed classes, relabelled 0..k-1 in the given order (e.g. binary tasks)."""
        idx, new_y = T.select_classes(self.y, classes, self.K)
        names = None if self.classes is None else tuple(self.classes[c] for c in classes)
        return self._derive(
            f"select_classes({list(classes)})",
            X=self.X[idx],
            y=new_y,
            K=len(list(classes)),
            classes=names,
        )

    def sort_by_class(self) -> Dataset:
        """Stable class-sorted order, so that ``Y = I_K ⊗ 1_n^T`` for balanced data."""
        return self.subset(T.class_sorted_order(self.y), "sort_by_class")

    def shuffle(self, seed: int = 0) -> Dataset:
        """Samples in a seeded random order."""
        g = torch.Generator().manual_seed(seed)
        return self.subset(torch.randperm(self.N, generator=g), f"shuffle(seed={seed})")

    def standardize(self, reference: Dataset | None = None) -> Dataset:
        """Per-feature z-scores, with the statistics of ``reference`` (e.g. the train split)."""
        mean = std = None
        if reference is not None:
            if "standardize_mean" in reference.meta:
                mean, std = reference.meta["standardize_mean"], reference.meta["standardize_std"]
            else:
                _, mean, std = T.standardize(reference.X.to(self.X))
        X, mean, std = T.standardize(self.X, mean, std)
        note = "standardize" if reference is None else f"standardize(reference={reference.split})"
        return self._derive(note, X=X, meta={"standardize_mean": mean, "standardize_std": std})

    def scale_to_unit_ball(self, scale: float | None = None) -> Dataset:
        """Divide by one scalar so that ``max ||x_i|| = 1`` (Xu et al.; Part D #42)."""
        X, scale = T.scale_to_unit_ball(self.X, scale)
        note = f"scale_to_unit_ball(scale={scale:.6g})"
        return self._derive(note, X=X, meta={"input_scale": scale})

    def normalize_rows(self) -> Dataset:
        """Every sample scaled to unit Euclidean norm."""
        return self._derive("normalize_rows", X=T.normalize_rows(self.X))

    def corrupt_labels(self, fraction: float, seed: int = 0) -> Dataset:
        """A random ``fraction`` of labels replaced by uniform random classes (Xu et al. Fig 4)."""
        y = T.corrupt_labels(self.y, fraction, self.K, seed)
        return self._derive(f"corrupt_labels(fraction={fraction}, seed={seed})", y=y)

    def to(self, device=None, dtype: torch.dtype | None = None) -> Dataset:
        """Move ``X`` (and ``y``) to ``device`` and cast ``X`` to the floating ``dtype``."""
        if dtype is not None and not dtype.is_floating_point:
            raise ValueError(f"dtype must be floating, got {dtype}")
        X = self.X.to(device=device, dtype=dtype)
        return replace(self, X=X, y=self.y.to(X.device))
