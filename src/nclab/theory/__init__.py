r"""Theory artefacts of the seed papers: optimal constructions, closed-form losses and bounds.

Papers: P0 = Jacot, Súkeník, Wang, Mondelli (ICLR 2025); P1 = Zangrando et al.; P2 = Súkeník,
Mondelli, Lampert ("Neural collapse versus low-rank bias"); P3 = Xu, Rangamani, Liao, Galanti,
Poggio. Every function returns plain floats, dicts or numpy arrays (CLI/JSON ready), checks its
arguments (``ValueError`` naming the argument) and cites its equation. Only :mod:`nclab.metrics`
is used from nclab.

DUFM, SRG and DNC (P2) — matrices in the paper's column convention (features ``(d, N)``):

- :func:`triangular_graph` ``(r)`` — G_r, T_r, SRG parameters, spectrum (Def 3);
  :func:`triangular_graph_spectrum`, :func:`strongly_regular_parameters`,
  :func:`last_layer_signs` (A_L^{(1)}), :func:`complete_graph_edges`.
- :func:`dufm_loss` ``(H1, Ws, Y, lambdas)`` — eq (1), fit and regularisation parts;
  :func:`dufm_forward`, :func:`layer_ranks`, :func:`ridge_last_layer` (Lemma 17),
  :func:`min_norm_map` (Lemmas 12–14), :func:`balanced_factorisation` (Lemma 18).
- :func:`srg_solution` ``(r, L, n, lambdas)``, :func:`srg_loss` ``(r, L, lam_H1, lam_W, n=1)``,
  :func:`srg_optimum`, :func:`srg_loss_curve`, :func:`srg_alphas`, :func:`srg_gram_spectrum`
  (Defs 4/9, Lemmas 15–16 with the corrected top eigenvalue).
- :func:`dnc_solution` ``(K, L, n, lambdas)``, :func:`dnc_loss` ``(K, L, lam_H1, lam_W, n=1)``,
  :func:`dnc_optimum`, :func:`dnc_loss_curve`, :func:`dnc_alphas` (Def 10).
- :func:`srg_dnc_ratio` ``(r, L, lam_H1, lam_W, n=1)`` (Fig 3 left), :func:`theorem5_condition`,
  :func:`theorem5_psi`, :func:`srg_loss_general`, :func:`srg_solution_general`,
  :func:`srg_dnc_ratio_general` (Def 11, any K >= 6).

Bounds (P0):

- :func:`nc1_bound` ``(eps1, eps2, r, N, K, n_prev, sK_Y)`` (18), :func:`feature_distance_bound`
  (23), :func:`kappa_bounds` (19)–(21), :func:`nc2_bound` (20), :func:`nc3_bound` (21),
  :func:`kappa_norm_bound` (14), :func:`kappa_global_min_bound` (15), :func:`ntk_lower_bound`
  (17), :func:`ntk_conditioning_bound` (Prop 5.3), :func:`lemma_c2_bound`.
- :class:`HeadSnapshot`, :func:`check_theorem31` ``(model_snapshot, X, Y)`` — measured NC1–3
  next to the Theorem 3.1/B.1 bounds, with precondition flags.

Other predictions:

- :func:`predicted_feature_spectra` ``(Y, L, activation, C)`` (P1 Thm 4.2 / Lemma B.1),
  :func:`predicted_spectra_from_features`, :func:`layer_representation_cost`.
- :func:`rho_equilibrium`, :func:`interpolation_gap`, :func:`equilibrium_loss`,
  :func:`square_loss_equilibrium` (P3 eqs (7)–(8), Lemmas 6–7),
  :func:`norm_generalization_bound` (P3 eq (16)).
"""

from .bounds import (
    feature_distance_bound,
    kappa_bounds,
    kappa_global_min_bound,
    kappa_norm_bound,
    lemma_c2_bound,
    nc1_bound,
    nc2_bound,
    nc3_bound,
    ntk_conditioning_bound,
    ntk_lower_bound,
)
from .dnc import dnc_alphas, dnc_loss, dnc_loss_curve, dnc_optimum, dnc_solution
from .dufm import (
    balanced_factorisation,
    dufm_forward,
    dufm_loss,
    layer_ranks,
    min_norm_map,
    ridge_last_layer,
)
from .feature_spectra import (
    layer_representation_cost,
    predicted_feature_spectra,
    predicted_spectra_from_features,
)
from .graphs import (
    complete_graph_edges,
    last_layer_signs,
    strongly_regular_parameters,
    triangular_graph,
    triangular_graph_spectrum,
)
from .square_loss import (
    equilibrium_loss,
    interpolation_gap,
    norm_generalization_bound,
    rho_equilibrium,
    square_loss_equilibrium,
)
from .srg import (
    srg_alphas,
    srg_gram_spectrum,
    srg_loss,
    srg_loss_curve,
    srg_optimum,
    srg_solution,
)
from .srg_vs_dnc import (
    srg_dnc_ratio,
    srg_dnc_ratio_general,
    srg_loss_general,
    srg_solution_general,
    theorem5_condition,
    theorem5_psi,
)
from .theorem31 import HeadSnapshot, check_theorem31

__all__ = [
    "HeadSnapshot",
    "balanced_factorisation",
    "check_theorem31",
    "complete_graph_edges",
    "dnc_alphas",
    "dnc_loss",
    "dnc_loss_curve",
    "dnc_optimum",
    "dnc_solution",
    "dufm_forward",
    "dufm_loss",
    "equilibrium_loss",
    "feature_distance_bound",
    "interpolation_gap",
    "kappa_bounds",
    "kappa_global_min_bound",
    "kappa_norm_bound",
    "last_layer_signs",
    "layer_ranks",
    "layer_representation_cost",
    "lemma_c2_bound",
    "min_norm_map",
    "nc1_bound",
    "nc2_bound",
    "nc3_bound",
    "norm_generalization_bound",
    "ntk_conditioning_bound",
    "ntk_lower_bound",
    "predicted_feature_spectra",
    "predicted_spectra_from_features",
    "rho_equilibrium",
    "ridge_last_layer",
    "square_loss_equilibrium",
    "srg_alphas",
    "srg_dnc_ratio",
    "srg_dnc_ratio_general",
    "srg_gram_spectrum",
    "srg_loss",
    "srg_loss_curve",
    "srg_loss_general",
    "srg_optimum",
    "srg_solution",
    "srg_solution_general",
    "strongly_regular_parameters",
    "theorem5_condition",
    "theorem5_psi",
    "triangular_graph",
    "triangular_graph_spectrum",
]
