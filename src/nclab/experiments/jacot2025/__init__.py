"""Jacot, Súkeník, Wang, Mondelli -- Wide networks trained with weight decay provably exhibit
neural collapse (ICLR 2025; seed 000; experiments.md C.1, B.1).

MLP layer names: ``layer{l}`` is W_l; nonlinear layers have ``/pre`` (W_l Z_{l-1}) and ``/post``
features, linear ones a single ``layer{l}``. The first two layers are the backbone; metrics are
shown from the backbone output on ("we measure such metrics starting from the output of the
backbone"). Balancedness of the pair (W_l, W_{l+1}) is recorded on layer ``layer{l}``.

CPU stand-in (experiments.md C.1): scikit-learn digits (20 samples per class, standardised),
width 64, full-batch GD with lr 0.05 on the mean-reduced MSE, ×0.1 at 80 %, float32. The
initialisation is LeCun normal ×1.2 ([choice]): with PyTorch's default init a 9-layer MLP at this
learning rate stays at the zero output under λ = 2e-3 ([checked]: accuracy 0.11 after 20k steps).

Figures by module: :mod:`.fig1_4` (NC metrics and balancedness through training), :mod:`.fig2_5`
(NC vs the depth of the linear head), :mod:`.fig3` (balancedness and negativity vs the nonlinear
depth); :mod:`.shared` holds the paper's configurations and the CPU stand-in.
"""

from .fig1_4 import FIG1, FIG4
from .fig2_5 import FIG2, FIG5
from .fig3 import FIG3

EXPERIMENTS = (FIG1, FIG2, FIG3, FIG4, FIG5)

__all__ = ["EXPERIMENTS", "FIG1", "FIG2", "FIG3", "FIG4", "FIG5"]
