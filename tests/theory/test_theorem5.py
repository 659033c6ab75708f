"""P2 Theorem 5 and Fig 3 (left): the SRG solution beats deep neural collapse."""

import itertools

import numpy as np
import pytest

from nclab.theory import (
    dnc_loss,
    srg_dnc_ratio,
    srg_dnc_ratio_general,
    theorem5_condition,
    theorem5_psi,
)

LAMBDAS = [1e-4, 1e-3, 5e-3]


def _covered(K, L):
    return (L == 3 and K >= 10) or (L >= 4 and K >= 6)


@pytest.mark.parametrize("L", [3, 4, 5, 6])
def test_ratio_below_one_on_lambda_grid(L):
    checked = 0
    for r, lam_H1, lam_W in itertools.product(range(4, 11), LAMBDAS, LAMBDAS):
        K = r * (r - 1) // 2
        if not _covered(K, L) or dnc_loss(K, L, lam_H1, lam_W) >= 0.499:
            continue
        assert srg_dnc_ratio(r, L, lam_H1, lam_W) < 1, (r, lam_H1, lam_W)
        checked += 1
    assert checked >= 40


def test_ratio_below_one_with_layerwise_lambdas():
    rng = np.random.default_rng(1)
    for _ in range(30):
        L = int(rng.integers(3, 7))
        r = int(rng.integers(5, 11))
        lam_W = 10 ** rng.uniform(-4, -2.5, size=L)
        lam_H1 = 10 ** rng.uniform(-4, -2.5)
        if dnc_loss(r * (r - 1) // 2, L, lam_H1, lam_W) < 0.499:
            assert srg_dnc_ratio(r, L, lam_H1, lam_W) < 1


@pytest.mark.parametrize("L", [3, 4, 5])
def test_ratio_below_one_for_general_K(L):
    for K in range(6, 31):
        if _covered(K, L) and dnc_loss(K, L, 1e-3, 1e-3) < 0.499:
            assert srg_dnc_ratio_general(K, L, 1e-3, 1e-3) < 1, K


def test_fig3_reference_and_predicate_matches_table():
    # experiments.md B.3.6: all lambda = 1e-3, n = 1; L = 3, r = 4 gives 1.056 > 1
    assert srg_dnc_ratio(4, 3, 1e-3, 1e-3) == pytest.approx(1.056, abs=5e-4)
    for L, r in itertools.product([3, 4, 5], range(4, 11)):
        assert theorem5_condition(r, L) == (srg_dnc_ratio(r, L, 1e-3, 1e-3) < 1), (L, r)


def test_ratio_tends_to_one_under_strong_regularisation():
    assert srg_dnc_ratio(6, 4, 0.5, 0.5) == 1.0  # both optima are the zero network


@pytest.mark.parametrize("L", [4, 5, 6])
def test_asymptotic_rate_of_equation_3(L):
    """ratio = O(K^{(3-L)/(2(L+1))}) while L_DNC << 1/2; the fitted slope matches."""
    rs = np.array([28, 40, 56, 80])
    K = rs * (rs - 1) / 2
    lam = 1e-6
    assert dnc_loss(int(K[-1]), L, lam, lam) < 0.05
    ratios = np.array([srg_dnc_ratio(int(r), L, lam, lam) for r in rs])
    assert np.all(np.diff(ratios) < 0)
    slope = np.polyfit(np.log(K), np.log(ratios), 1)[0]
    assert slope == pytest.approx((3 - L) / (2 * (L + 1)), abs=0.02)
    psi_slope = np.polyfit(np.log(K), np.log([theorem5_psi(int(r), L) for r in rs]), 1)[0]
    assert psi_slope == pytest.approx((3 - L) / (2 * L), abs=0.02)


def test_condition_details():
    assert all(theorem5_condition(r, L) for r in range(4, 40) for L in range(4, 9))
    assert not theorem5_condition(4, 3) and all(theorem5_condition(r, 3) for r in range(5, 40))
    with pytest.raises(ValueError, match="L must"):
        theorem5_condition(5, 2)
