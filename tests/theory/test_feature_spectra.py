"""P1 Theorem 4.2 / Lemma B.1: predicted singular values of collapsed features."""

import math

import numpy as np
import pytest

from nclab.theory import (
    layer_representation_cost,
    predicted_feature_spectra,
    predicted_spectra_from_features,
)

rng = np.random.default_rng(0)
y = np.repeat(np.arange(4), [5, 5, 7, 3])  # unequal class sizes: s = a sqrt(N_c)
K, N = 4, len(y)


def _configuration(pred, width=10):
    """Z^l = a_l [Y; 0] (columns = samples) for every layer of a forecast."""
    Y = np.eye(K)[:, y]
    return [a * np.vstack([Y, np.zeros((width - K, N))]) for a in pred["scales"][:-1]] + [
        pred["scales"][-1] * Y
    ]


@pytest.mark.parametrize("C", [1.0, 0.5, 2.0])
def test_identity_scales_and_costs(C):
    pred = predicted_feature_spectra(y, 5, "identity", C)
    np.testing.assert_allclose(pred["scales"], [math.sqrt(C) ** (5 - l) for l in range(1, 6)])
    for a, s in zip(pred["scales"], pred["singular_values"], strict=True):
        np.testing.assert_allclose(s, a * np.sqrt([7, 5, 5, 3]))
    assert pred["representation_cost"] == pytest.approx(4 * K / (2 * C))


@pytest.mark.parametrize("activation", ["tanh", "leaky_relu", "identity"])
@pytest.mark.parametrize("C", [1.0, 0.8])
def test_forecast_is_a_fixed_point(activation, C):
    """The predicted configuration is representable, its layer-wise prediction reproduces it,
    every weight is a scaled rank-K partial isometry and each layer costs K/(2C) (Lemma B.1)."""
    L = 4
    pred = predicted_feature_spectra(y, L, activation, C, label_scale=0.6)
    Zs = _configuration(pred)
    fwd, inv = {
        "tanh": (np.tanh, np.arctanh),
        "leaky_relu": (
            lambda x: np.where(x >= 0, x, 0.01 * x),
            lambda x: np.where(x >= 0, x, x / 0.01),
        ),
        "identity": (lambda x: x, lambda x: x),
    }[activation]
    total = 0.0
    for l in range(L - 1):
        A = inv(Zs[l + 1])
        W = A @ np.linalg.pinv(Zs[l])
        np.testing.assert_allclose(fwd(W @ Zs[l]), Zs[l + 1], atol=1e-12)  # constraint (I)
        s = np.linalg.svd(W, compute_uv=False)
        np.testing.assert_allclose(s[:K], pred["weight_singular_value"], rtol=1e-12)
        assert np.all(s[K:] < 1e-12)
        cost = layer_representation_cost(A, Zs[l])
        assert cost == pytest.approx(pred["layer_cost"], rel=1e-12)
        total += cost
    assert total == pytest.approx(pred["representation_cost"], rel=1e-12)
    back = predicted_spectra_from_features([Z.T for Z in Zs], activation, C)
    assert max(back["rel_error"]) < 1e-12
    for l in range(L - 1):
        np.testing.assert_allclose(back["predicted"][l][:K], pred["singular_values"][l])


def test_lemma_b1_optimum_beats_random_feasible_points():
    A = rng.standard_normal((5, 3)) @ rng.standard_normal((3, 12))  # rank 3
    C = 0.7
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    s = s[:3]
    O = np.linalg.qr(rng.standard_normal((8, 5)))[0]
    optimum = layer_representation_cost(A, math.sqrt(C) * O @ A)
    assert optimum == pytest.approx(3 / (2 * C), rel=1e-10)
    for _ in range(50):
        shrink = rng.uniform(0.3, 1.0, 3)  # s_i(B)^2 <= C s_i(A)^2
        mix = np.linalg.qr(rng.standard_normal((3, 3)))[0]  # misaligned right vectors
        B = O[:, :3] @ np.diag(math.sqrt(C) * s * shrink) @ mix @ Vt[:3]
        assert layer_representation_cost(A, B) >= optimum - 1e-9


def test_definition_convention_and_trained_like_noise():
    pred = predicted_feature_spectra(y, 3, "identity", 2.0, convention="definition")
    assert pred["scales"] == [4.0, 2.0, 1.0] and pred["layer_cost"] == pytest.approx(K / 8)
    Zs = [Z.T for Z in _configuration(predicted_feature_spectra(y, 3, "identity", 1.0))]
    noisy = [Z + 0.05 * rng.standard_normal(Z.shape) for Z in Zs[:-1]] + [Zs[-1]]
    err = predicted_spectra_from_features(noisy, "identity")["mean_rel_error"]
    assert 1e-3 < err < 0.2


def test_tanh_with_one_hot_labels_is_undefined():
    with pytest.raises(ValueError, match="label_scale < 1"):
        predicted_feature_spectra(y, 3, "tanh")
    # layer-wise version clamps instead of failing
    Y = np.eye(K)[y]
    out = predicted_spectra_from_features([np.tanh(2 * Y), Y], "tanh")
    assert np.all(np.isfinite(out["predicted"][0]))


def test_per_layer_activations_and_errors():
    pred = predicted_feature_spectra(y, 3, ["identity", "tanh"], label_scale=0.5)
    assert pred["scales"] == pytest.approx([math.atanh(0.5), math.atanh(0.5), 0.5])
    with pytest.raises(ValueError, match="activation"):
        predicted_feature_spectra(y, 3, "relu")
    with pytest.raises(ValueError, match="σ_2..σ_L"):
        predicted_feature_spectra(y, 3, ["tanh"])
    with pytest.raises(ValueError, match="convention"):
        predicted_feature_spectra(y, 3, convention="other")
    with pytest.raises(ValueError, match="C must"):
        predicted_feature_spectra(y, 3, C=0.0)
    with pytest.raises(ValueError, match="rows"):
        predicted_spectra_from_features([np.ones((4, 2)), np.ones((5, 2))])
