"""Product norm rho and output margins (Xu et al. 2023)."""

import math

import metrics_naive as nv
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nclab import metrics as m


def _weights(rng):
    return [
        rng.normal(size=(6, 3, 3, 3)),  # conv kernel: Frobenius norm of the kernel tensor
        rng.normal(size=(8, 54)),
        torch.from_numpy(rng.normal(size=(4, 8))),
        rng.normal(size=(4,)),  # a bias vector
    ]


def test_product_norm_matches_naive():
    rng = np.random.default_rng(0)
    W = _weights(rng)
    got = m.product_norm(W)
    assert isinstance(got, float)
    assert got == pytest.approx(nv.product_norm(W), rel=1e-12)
    assert m.product_norm(W, log=True) == pytest.approx(nv.product_norm(W, log=True), rel=1e-12)
    assert m.product_norm(iter(W)) == pytest.approx(got, rel=1e-14)  # any iterable


def test_product_norm_zero_layer():
    rng = np.random.default_rng(1)
    W = _weights(rng) + [np.zeros((3, 4))]
    assert m.product_norm(W) == 0.0
    assert m.product_norm(W, log=True) == -math.inf


def test_product_norm_log_for_deep_networks():
    # 400 layers of Frobenius norm 10: log rho = 400 log 10, fine in log space.
    W = [np.full((1, 1), 10.0)] * 400
    assert m.product_norm(W, log=True) == pytest.approx(400 * math.log(10.0), rel=1e-12)


def test_product_norm_overflow_is_inf_not_an_exception():
    # rho = 10^400 is not representable; the plain product should overflow to inf like a float
    # product does, not raise OverflowError (use log=True for the value).
    W = [np.full((1, 1), 10.0)] * 400
    assert m.product_norm(W) == math.inf


@nv.PROPS
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.booleans(), st.booleans())
def test_binary_margins_match_naive(seed, N, column, use_torch):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=N)
    s = rng.choice([-1, 1], size=N)
    F = f[:, None] if column else f
    if use_torch:
        F, s_in = torch.from_numpy(F), torch.from_numpy(s)
    else:
        s_in = s
    got_v = m.margin_values(F, s_in)
    np.testing.assert_allclose(np.asarray(got_v), nv.margin_values(f, s), rtol=1e-14)
    got = m.margins(F, s_in)
    want = nv.margins(f, s)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-10, abs=1e-14), key


def test_margin_values_returns_a_numpy_array():
    # Package convention (metrics/__init__.py): results are Python floats, small dicts, or numpy
    # arrays; per-sample margins are an array like the spectra.
    F = np.random.default_rng(0).normal(size=(5, 3))
    assert isinstance(m.margin_values(F, np.array([0, 1, 2, 0, 1])), np.ndarray)
    assert isinstance(m.margin_values(F[:, 0], np.array([1, -1, 1, 1, -1])), np.ndarray)


@nv.PROPS
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(2, 7))
def test_multiclass_margins_match_naive(seed, N, C):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(N, C))
    y = rng.integers(0, C, size=N)
    np.testing.assert_allclose(
        np.asarray(m.margin_values(F, y)), nv.margin_values(F, y), rtol=1e-12, atol=1e-14
    )
    got, want = m.margins(F, y), nv.margins(F, y)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-10, abs=1e-14), key


def test_collapsed_outputs_have_equal_margins():
    # Outputs f_n = a * e~_{y_n}: margin a * ||e~||^2 = a C/(C-1) for every sample, std 0,
    # second moment a^2 C/(C-1).
    C, a = 4, 0.3
    E = np.full((C, C), -1 / (C - 1))
    np.fill_diagonal(E, 1.0)
    y = np.array([0, 1, 2, 3, 2, 1, 0, 0])
    r = m.margins(a * E[y], y)
    assert r["mean"] == pytest.approx(a * C / (C - 1), rel=1e-14)
    assert r["min"] == pytest.approx(a * C / (C - 1), rel=1e-14)
    assert r["std"] == pytest.approx(0.0, abs=1e-15)
    assert r["second_moment"] == pytest.approx(a**2 * C / (C - 1), rel=1e-14)
    assert r["sigma2"] == pytest.approx(r["second_moment"] - r["mean"] ** 2, abs=1e-15)
    b = m.margins(np.array([0.2, -0.2, 0.2]), np.array([1, -1, 1]))
    assert b["mean"] == pytest.approx(0.2) and b["std"] == pytest.approx(0.0, abs=1e-16)
    assert b["sigma2"] == pytest.approx(0.0, abs=1e-16)
