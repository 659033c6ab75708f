"""Zangrando, Deidda, Brugiapaglia, Guglielmi, Tudisco -- Provable emergence of deep neural
collapse and low-rank bias in L2-regularized nonlinear networks (seed 001; experiments.md C.2,
B.2).

§5.2-5.3 setting: N = 200 MNIST samples (CPU: scikit-learn digits, 20 per class), every layer
tanh (Part D #17: the last one too, one-hot targets), widths n_1..n_{L-1} = N, no biases, loss
``L_{λ,δ} = ½||f(X) - Y||^2 + (λ/2) Σ_{l>=2} ||W_l||^2 + (λδ/2) ||W_1||^2 + (λ'/2) Σ_l ||Z^l||^2``
with λ = λ' = 1e-5 (preset ``p0_theory``, ``reg.first_layer_factor`` = δ, Part D #21), Adam
lr 1e-3 ([choice]) in float64. MLP layers ``layer{l}/pre``, ``layer{l}/post`` = Z^l.

Figures by module: :mod:`.fig1` (distance to rank K), :mod:`.fig2_4` (feature spectra vs δ),
:mod:`.fig3_5` (TCV and residual weights to zero), :mod:`.fig6_7` (L = 15: Gram blocks, 2-D
projections); :mod:`.shared` holds the setting and its CPU stand-ins.
"""

from .fig1 import FIG1
from .fig2_4 import FIG2, FIG4
from .fig3_5 import FIG3, FIG5
from .fig6_7 import FIG6, FIG7

EXPERIMENTS = (FIG1, FIG2, FIG3, FIG4, FIG5, FIG6, FIG7)

__all__ = ["EXPERIMENTS", "FIG1", "FIG2", "FIG3", "FIG4", "FIG5", "FIG6", "FIG7"]
