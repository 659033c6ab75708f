"""P2 Definitions 9–11: explicit SRG/DNC matrices against the closed forms of Appendix A.1."""

import math

import numpy as np
import pytest

from nclab.metrics import numerical_rank
from nclab.theory import (
    dnc_alphas,
    dnc_loss,
    dnc_loss_curve,
    dnc_optimum,
    dnc_solution,
    dufm_loss,
    srg_alphas,
    srg_gram_spectrum,
    srg_loss,
    srg_loss_curve,
    srg_loss_general,
    srg_optimum,
    srg_solution,
    srg_solution_general,
)

CASES = [  # r, L, n, (lam_H1, lam_W)
    (4, 3, 1, (1e-3, 1e-3)),
    (5, 4, 2, (2e-3, 5e-4)),
    (6, 3, 1, (1e-3, [1e-3, 2e-3, 5e-4])),
    (7, 5, 3, (5e-4, [1e-3, 2e-3, 5e-4, 1e-3, 3e-3])),
    (8, 6, 1, (1e-4, 1e-4)),
]


def _direct(sol, lambdas):
    return dufm_loss(sol["H1"], sol["Ws"], sol["Y"], lambdas)["loss"]


@pytest.mark.parametrize("r, L, n, lam", CASES)
def test_srg_closed_form_equals_direct_evaluation(r, L, n, lam):
    opt = srg_optimum(r, L, *lam, n)
    for q in [opt["q"], 0.5 * opt["q"], 1.7, 0.0]:
        sol = srg_solution(r, L, n, lam, q=q)
        assert sol["loss"] == pytest.approx(srg_loss_curve(q, r, L, *lam, n), rel=1e-14)
        assert _direct(sol, lam) == pytest.approx(sol["loss"], rel=1e-12)
    assert srg_solution(r, L, n, lam)["loss"] == pytest.approx(srg_loss(r, L, *lam, n), rel=1e-12)


@pytest.mark.parametrize(
    "K, L, n, lam",
    [
        (6, 3, 1, (1e-3, 1e-3)),
        (10, 2, 2, (1e-3, 2e-3)),
        (15, 5, 1, (5e-4, [1e-3, 2e-3, 5e-4, 1e-3, 3e-3])),
    ],
)
def test_dnc_closed_form_equals_direct_evaluation(K, L, n, lam):
    opt = dnc_optimum(K, L, *lam, n)
    for t in [opt["t"], 2 * opt["t"], 0.0]:
        sol = dnc_solution(K, L, n, lam, t=t)
        assert _direct(sol, lam) == pytest.approx(dnc_loss_curve(t, K, L, *lam, n), rel=1e-12)
    sol = dnc_solution(K, L, n, lam)
    for M in sol["means"][1:]:  # DNC2: orthogonal class means
        G = M.T @ M
        np.testing.assert_allclose(G, G[0, 0] * np.eye(K), atol=1e-14 * max(G[0, 0], 1))


def test_trivial_solution_has_loss_half():
    assert srg_solution(5, 4, 1, 1e-3, q=0.0)["loss"] == 0.5
    assert _direct(srg_solution(5, 4, 1, 1e-3, q=0.0), 1e-3) == 0.5


@pytest.mark.parametrize("r", [4, 5, 6, 7, 9])
def test_lemma15_16_spectra_and_corrected_mu1(r):
    sol = srg_solution(r, 4, 1, 1e-3, q=1.3)
    for M, alpha, last in [
        (sol["means"][1], sol["alphas"][0], False),
        (sol["means"][2], sol["alphas"][1], False),
        (sol["means"][3], sol["alphas"][2], True),
    ]:
        spectrum = srg_gram_spectrum(r, alpha, last=last)
        expected = np.concatenate([np.full(m, v) for v, m in spectrum])
        np.testing.assert_allclose(
            np.sort(np.linalg.eigvalsh(M.T @ M)), np.sort(expected), atol=1e-12 * alpha
        )
    alpha_L = sol["alphas"][-1]
    true_mu1 = np.linalg.eigvalsh(sol["means"][-1].T @ sol["means"][-1])[-1]
    printed = srg_gram_spectrum(r, alpha_L, last=True, printed_mu1=True)[0][0]
    assert math.isclose(true_mu1, printed, rel_tol=1e-12) == (r in (4, 5))


def test_mu1_reference_value():
    # by hand for r = 6: C(4,2)^2 alpha / s^2 = 36 alpha / 7 (the paper prints 44/14 = 22/7)
    assert srg_gram_spectrum(6, 1.0, last=True)[0][0] == pytest.approx(36 / 7, rel=1e-15)
    assert srg_gram_spectrum(6, 1.0, last=True, printed_mu1=True)[0][0] == pytest.approx(22 / 7)


@pytest.mark.parametrize("r", [4, 6, 8])
def test_printed_loss_formula_disagrees_with_direct_evaluation_for_r_ge_6(r):
    lam = (1e-3, 1e-3)
    q = srg_optimum(r, 4, *lam)["q"]
    direct = _direct(srg_solution(r, 4, 1, lam, q=q), lam)
    printed = srg_loss_curve(q, r, 4, *lam, printed_mu1=True)
    assert math.isclose(printed, direct, rel_tol=1e-10) == (r < 6)


@pytest.mark.parametrize("r, L", [(5, 4), (6, 5), (7, 3)])
def test_lemmas_13_14_weight_norms(r, L):
    sol = srg_solution(r, L, 1, 1e-3, q=0.9)
    a, Ws = sol["alphas"], sol["Ws"]  # a[i] = alpha_{i+2}; Ws[i] = W_{i+1}
    S = (r - 2) * (r - 3) + 2
    for l in range(2, L - 1):
        assert np.sum(Ws[l - 1] ** 2) == pytest.approx(r * a[l - 1] / a[l - 2], rel=1e-10)
    expected = a[-1] / a[-2] * r**2 * (r - 1) ** 2 / (4 * S)
    assert np.sum(Ws[L - 2] ** 2) == pytest.approx(expected, rel=1e-10)
    # Lemma 15 + 18: first-layer cost sqrt(lam_H1 lam_W1)(sqrt 2 + sqrt((r-1)(r-2))) sqrt(alpha_2)
    first = dufm_loss(sol["H1"], Ws, sol["Y"], 1e-3)
    p = 1e-3 * (math.sqrt(2) + math.sqrt((r - 1) * (r - 2)))
    assert first["reg_H1"] + first["reg_W"][0] == pytest.approx(p * math.sqrt(a[0]), rel=1e-10)


@pytest.mark.parametrize("r", [4, 5, 6, 7])
def test_ranks_fig1(r):
    sol = srg_solution(r, 4, 2, 1e-3)
    K = sol["K"]
    for M in sol["means"][1:-1]:
        assert numerical_rank(M, 1e-8) == r
    # rank(M~_L) = r (P2 Fig 1, r = 5); for r = 4 complementary pairs have opposite signs: rank 3
    assert numerical_rank(sol["pre_means"][-1], 1e-8) == (r if r >= 5 else 3)
    assert numerical_rank(sol["means"][-1], 1e-8) == K
    assert np.all(sol["means"][-1] >= 0) and all(np.all(M >= 0) for M in sol["means"][1:-1])
    dnc = dnc_solution(K, 4, 2, 1e-3)
    assert all(numerical_rank(M, 1e-8) == K for M in dnc["means"][1:])


def test_optimal_ratios_are_stationary():
    """Eq (6): for fixed alpha_2 the layer ratios minimise the loss (perturb each inner alpha)."""
    lam = (1e-3, [1e-3, 2e-3, 5e-4, 1e-3, 3e-3])
    for build, alphas in [
        (lambda a: srg_solution(6, 5, 1, lam, alphas=a), srg_optimum(6, 5, *lam)["alphas"]),
        (lambda a: dnc_solution(10, 5, 1, lam, alphas=a), dnc_optimum(10, 5, *lam)["alphas"]),
    ]:
        base = build(alphas)["loss"]
        for i in range(1, len(alphas)):
            for f in (0.98, 1.02):
                moved = list(alphas)
                moved[i] *= f
                assert build(moved)["loss"] > base


def test_definition10_printed_alphas_are_off_by_one():
    """Def 10 prints alpha_{l-1} with the product up to l-1 (one index too far)."""
    K, L, lam_H1, lam_W = 10, 5, 1e-3, [1e-3, 2e-3, 5e-4, 1e-3, 3e-3]
    t = dnc_optimum(K, L, lam_H1, lam_W)["t"]
    q = t / lam_W[L - 2]  # the paper's parametrisation
    printed = [
        lam_W[L - 2] ** (l - 1) * q ** (l - 1) / (lam_H1 * math.prod(lam_W[: l - 1]))
        for l in range(3, L + 1)
    ]  # alpha_2 .. alpha_{L-1}
    printed.append(lam_W[L - 2] ** (L - 1) * q**L / (lam_H1 * math.prod(lam_W[: L - 2])))
    ours = dnc_alphas(t, K, L, lam_H1, lam_W)
    assert printed[-1] == pytest.approx(ours[-1], rel=1e-12)  # alpha_L is consistent
    assert not np.allclose(printed[:-1], ours[:-1])
    lam = (lam_H1, lam_W)
    assert dnc_solution(K, L, 1, lam, alphas=printed)["loss"] > dnc_loss(K, L, lam_H1, lam_W)


def test_boundary_optimum_beats_interior_local_minimum():
    lam = 0.03  # L(q) has an interior local minimum above 1/2; the zero network wins
    for curve, opt, grid in [
        (
            lambda x: dnc_loss_curve(x, 10, 4, lam, lam),
            dnc_optimum(10, 4, lam, lam)["loss"],
            np.linspace(0, 1 / 40, 20001)[1:],
        ),
        (
            lambda x: srg_loss_curve(x, 5, 4, lam, lam),
            srg_optimum(5, 4, lam, lam)["loss"],
            np.linspace(0, 5, 20001)[1:],
        ),
    ]:
        f = curve(grid)
        inner = np.flatnonzero((f[1:-1] < f[:-2]) & (f[1:-1] < f[2:]))
        assert inner.size == 1 and f[inner[0] + 1] > 0.5
        assert opt == 0.5


@pytest.mark.parametrize("r, L, lam", [(5, 3, 1e-3), (9, 4, 1e-4), (6, 6, 3e-3), (10, 5, 1e-2)])
def test_optimum_matches_dense_grid(r, L, lam):
    p = lam * (math.sqrt(2) + math.sqrt((r - 1) * (r - 2)))
    grid = np.linspace(0, 1 / (L * p), 400001)
    best_grid = min(0.5, float(srg_loss_curve(grid, r, L, lam, lam).min()))
    assert srg_loss(r, L, lam, lam) <= best_grid + 1e-15
    assert srg_loss(r, L, lam, lam) >= best_grid - 1e-6
    K = r * (r - 1) // 2
    grid = np.linspace(0, 1 / (L * K), 400001)
    best_grid = min(0.5, float(dnc_loss_curve(grid, K, L, lam, lam).min()))
    assert best_grid - 1e-6 <= dnc_loss(K, L, lam, lam) <= best_grid + 1e-15


def test_n_enters_only_through_n_lam_H1():
    assert srg_loss(6, 4, 1e-3, 2e-3, n=5) == pytest.approx(srg_loss(6, 4, 5e-3, 2e-3), rel=1e-12)
    assert dnc_loss(6, 4, 1e-3, 2e-3, n=5) == pytest.approx(dnc_loss(6, 4, 5e-3, 2e-3), rel=1e-12)


@pytest.mark.parametrize("K", [6, 7, 9, 11, 16])
@pytest.mark.parametrize("construction", ["block", "prune"])
def test_definition11_general_K(K, construction):
    lam = (1e-3, [1e-3, 2e-3, 5e-4, 1e-3])
    sol = srg_solution_general(K, 4, 2, lam, construction=construction)
    assert sol["H1"].shape[1] == 2 * K and sol["Ws"][-1].shape[0] == K
    direct = _direct(sol, lam)
    assert direct == pytest.approx(
        srg_loss_general(K, 4, *lam, 2, construction=construction), rel=1e-8
    )
    if construction == "prune":  # removing classes never increases the loss (proof of Thm 5)
        assert direct <= srg_loss(sol["r"], 4, *lam, 2) + 1e-15


def test_general_K_equals_srg_for_triangular_numbers():
    assert srg_loss_general(10, 4, 1e-3, 1e-3) == pytest.approx(srg_loss(5, 4, 1e-3, 1e-3))


def test_alphas_shapes_and_errors():
    assert srg_alphas(np.array([0.1, 0.2, 0.3]), 5, 4, 1e-3, 1e-3).shape == (3, 3)
    assert dnc_alphas(0.1, 5, 4, 1e-3, 1e-3).shape == (3,)
    with pytest.raises(ValueError, match="L must"):
        srg_loss(5, 2, 1e-3, 1e-3)
    with pytest.raises(ValueError, match="lam_W must hold L = 4"):
        srg_loss(5, 4, 1e-3, [1e-3, 1e-3])
    with pytest.raises(ValueError, match="q must"):
        srg_alphas(-1.0, 5, 4, 1e-3, 1e-3)
    with pytest.raises(ValueError, match="width"):
        srg_solution(5, 4, 1, 1e-3, width=5)
    with pytest.raises(ValueError, match="construction"):
        srg_loss_general(8, 4, 1e-3, 1e-3, construction="other")
    with pytest.raises(ValueError, match="K must"):
        srg_loss_general(5, 4, 1e-3, 1e-3)
