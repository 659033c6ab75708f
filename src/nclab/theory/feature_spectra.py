r"""Predicted singular values of collapsed intermediate features for the representation cost with
an unregularised first layer (Zangrando et al., P1 Theorem 4.2, Lemma B.1, Appendix B).

P1 eq (11): with ``W_{l+1} = σ_{l+1}^{-1}(Z^{l+1}) Z^{l,+}`` the cost of an interpolating network is
``Σ_{l=1}^{L-1} ½ ||σ_{l+1}^{-1}(Z^{l+1}) Z^{l,+}||_F^2``. Lemma B.1 minimises one term over
``B = Z^l`` with ``s_i(B)^2 <= C s_i(A)^2`` (A = σ_{l+1}^{-1}(Z^{l+1})): the optimum is
``B = sqrt(C) O A`` (``O^T O = I``) with value ``rank(A)/(2C)``. Applied top-down from
``Z^L = Y`` this gives the recursion

    Z^l = c · O_l σ_{l+1}^{-1}(Z^{l+1}),   l = L-1, ..., 1,

so every layer is DNC1-collapsed and every regularised weight is a rank-K partial isometry scaled
by ``1/c``.

Ambiguity (P1 is inconsistent about C): Definition 4.1 (II) writes ``s_i(Z^l) <= C s_i(A)``
(factor ``c = C``, layer cost ``rank/(2C^2)``) while Lemma B.1 (18) writes
``s_i(B)^2 <= C s_i(A)^2`` (factor ``c = sqrt(C)``, cost ``rank/(2C)``); Theorem 4.2 says the
"proportionality constant is C". We implement Lemma B.1 (``convention="lemma"``, the only
self-consistent reading: its statement, constraint and value agree); ``convention="definition"``
gives the other. They coincide at C = 1, the value P1 finds numerically. Further typos: the proof
of Lemma B.1 ends with ``rank(A)^2/(2C)`` and that of Theorem 4.2 with ``(L/2) rank(Y)``; summing
the L - 1 layer terms gives ``(L-1) rank(Y)/(2C)``.

With σ = tanh and one-hot labels the top-down forecast is undefined (atanh(1) = ∞): pass
``label_scale < 1`` (P1 §5.2 trains tanh nets on one-hot targets, which only approximately
interpolate). The layer-wise version :func:`predicted_spectra_from_features` clamps instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from nclab.metrics import singular_values

from ._checks import as_array, integer, labels_from, positive

_TANH_CLAMP = 1.0 - 1e-12


def _leaky(slope: float) -> tuple[Callable, Callable]:
    return (lambda x: np.where(x >= 0, x, slope * x), lambda y: np.where(y >= 0, y, y / slope))


ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "identity": (lambda x: x, lambda y: y),
    "tanh": (np.tanh, np.arctanh),
    "leaky_relu": _leaky(0.01),
}


def _activation(spec, name: str) -> tuple[Callable, Callable]:
    if isinstance(spec, str):
        if spec not in ACTIVATIONS:
            raise ValueError(
                f"{name} must be one of {sorted(ACTIVATIONS)} or a (σ, σ^-1) pair, got {spec!r}"
            )
        return ACTIVATIONS[spec]
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(f) for f in spec):
        return spec
    raise ValueError(f"{name} must be an activation name or a (σ, σ^-1) pair of callables")


def _activations(activation, count: int) -> list[tuple[Callable, Callable]]:
    if isinstance(activation, Sequence) and not isinstance(activation, (str, tuple)):
        if len(activation) != count:
            raise ValueError(
                f"activation must give σ_2..σ_L ({count} entries), got {len(activation)}"
            )
        return [_activation(a, f"activation[{i}]") for i, a in enumerate(activation)]
    return [_activation(activation, "activation")] * count


def _factor(C: float, convention: str) -> float:
    if convention == "lemma":
        return math.sqrt(C)
    if convention == "definition":
        return C
    raise ValueError(f"convention must be 'lemma' or 'definition', got {convention!r}")


def predicted_feature_spectra(
    Y,
    L: int,
    activation="identity",
    C: float = 1.0,
    *,
    label_scale: float = 1.0,
    convention: str = "lemma",
) -> dict:
    r"""Idealised top-down forecast of P1 Theorem 4.2 with zero-padding embeddings O_l = [I; 0].

    ``Z^L = a_L Y`` with ``a_L = label_scale``, ``Z^l = a_l [Y; 0]`` with
    ``a_l = c · σ_{l+1}^{-1}(a_{l+1})`` (σ^{-1}(0) = 0 keeps the zeros), ``c = sqrt(C)`` (Lemma B.1)
    or ``C`` (``convention="definition"``). The non-zero singular values of layer l are
    ``|a_l| sqrt(N_c)`` over the classes.

    ``Y``: one-hot ``(N, K)`` (rows = samples) or integer labels ``(N,)``. ``activation``: name
    (``"identity"``, ``"tanh"``, ``"leaky_relu"``), a ``(σ, σ^{-1})`` pair of numpy callables, or a
    list of L-1 of those for σ_2..σ_L. Returns ``{"scales": [a_1..a_L], "singular_values":
    [array per layer 1..L], "weight_singular_value": 1/c, "layer_cost": K/(2c^2),
    "representation_cost": (L-1) K/(2c^2)}``. Raises ``ValueError`` when a scale leaves the
    range of σ (e.g. tanh with ``label_scale >= 1``).
    """
    y, K = labels_from(Y, "Y")
    L = integer(L, "L", minimum=2)
    c = _factor(positive(C, "C"), convention)
    a = positive(label_scale, "label_scale")
    acts = _activations(activation, L - 1)
    counts = np.bincount(y, minlength=K)
    if np.any(counts == 0):
        raise ValueError("Y has an empty class; every class needs a sample")
    scales = [a]
    for l in range(L - 1, 0, -1):
        _, inverse = acts[l - 1]  # σ_{l+1} is the (l-1)-th entry of σ_2..σ_L
        with np.errstate(divide="ignore", invalid="ignore"):
            pre = float(inverse(np.array(scales[0])))
        if not math.isfinite(pre) or pre == 0:
            raise ValueError(
                f"scale a_{l + 1} = {scales[0]} is outside the range of σ_{l + 1} "
                "(for tanh use label_scale < 1)"
            )
        scales.insert(0, c * pre)
    root = np.sort(np.sqrt(counts))[::-1]
    return {
        "scales": scales,
        "singular_values": [abs(s) * root for s in scales],
        "weight_singular_value": 1.0 / c,
        "layer_cost": K / (2 * c**2),
        "representation_cost": (L - 1) * K / (2 * c**2),
    }


def layer_representation_cost(A, B) -> float:
    r"""``½ ||A B^+||_F^2`` — one term of P1 eq (11) with ``A = σ_{l+1}^{-1}(Z^{l+1})``, ``B = Z^l``
    (columns = samples). Its minimum over Lemma B.1's feasible set is ``rank(A)/(2C)``."""
    A, B = as_array(A, "A", ndim=2), as_array(B, "B", ndim=2)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B need the same number of columns (samples): {A.shape}, {B.shape}")
    return 0.5 * float(np.sum((A @ np.linalg.pinv(B)) ** 2))


def predicted_spectra_from_features(
    features, activation="identity", C: float = 1.0, *, convention: str = "lemma"
) -> dict:
    r"""Layer-wise prediction of P1 Theorem 4.2 from a trained network (P1 Figs 2, 4):
    ``ŝ(Z^l) = c · s(σ_{l+1}^{-1}(Z^{l+1}))`` for l = 1..L-1 (tanh inverted on values clamped to
    ``±(1 - 1e-12)``), compared with the measured ``s(Z^l)``.

    ``features``: ``[Z^1, ..., Z^L]``, each ``(N, n_l)`` with rows = samples. Returns
    ``{"predicted": [...], "measured": [...], "rel_error": [||s - ŝ||/||ŝ|| per layer],
    "mean_rel_error": float}`` (vectors zero-padded to a common length per layer). At an exact
    minimiser (e.g. the configuration of :func:`predicted_feature_spectra`) every error is 0.
    """
    if not isinstance(features, Sequence) or len(features) < 2:
        raise ValueError("features must be a list [Z^1, ..., Z^L] with L >= 2")
    Zs = [as_array(Z, f"features[{i}]", ndim=2) for i, Z in enumerate(features)]
    if any(Z.shape[0] != Zs[0].shape[0] for Z in Zs):
        raise ValueError("every feature matrix must have the same number of rows (samples)")
    c = _factor(positive(C, "C"), convention)
    acts = _activations(activation, len(Zs) - 1)
    predicted, measured, errors = [], [], []
    for l in range(len(Zs) - 1):
        forward, inverse = acts[l]
        nxt = Zs[l + 1]
        if forward is np.tanh:
            nxt = np.clip(nxt, -_TANH_CLAMP, _TANH_CLAMP)
        s_hat = c * singular_values(inverse(nxt))
        s = singular_values(Zs[l])
        m = max(len(s), len(s_hat))
        s_hat, s = np.pad(s_hat, (0, m - len(s_hat))), np.pad(s, (0, m - len(s)))
        predicted.append(s_hat)
        measured.append(s)
        norm = float(np.linalg.norm(s_hat))
        errors.append(float(np.linalg.norm(s - s_hat)) / norm if norm > 0 else math.inf)
    return {
        "predicted": predicted,
        "measured": measured,
        "rel_error": errors,
        "mean_rel_error": float(np.mean(errors)),
    }
