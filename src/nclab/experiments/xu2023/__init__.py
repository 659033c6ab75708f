"""Xu, Rangamani, Liao, Galanti, Poggio -- Dynamics in deep classifiers trained with the square
loss: normalization, low rank, neural collapse and generalization bounds (seed 003;
experiments.md C.4, B.4).

Common setting: binary CIFAR-10 (classes 1 and 2, 0-indexed, Part D #41; 10 000 train / 2 000
test images, inputs scaled to the unit ball, Part D #42), the six-layer bias-free ReLU network
(4 valid 3x3 convolutions with 32, 64, 128, 128 channels and strides 1, 2, 1, 2, FC 3200 -> 1024
-> 1), every layer Frobenius weight-normalised with a frozen gain and one learnable scale ρ,
the only regularised parameter (λρ²). Loss (1/N) Σ (ρ f_n - y_n)^2 with y = ±1 and a scalar
output (Part D #43). SGD with momentum 0.9 and a cosine schedule ([choice] where unspecified).

CPU stand-in (C.4): classes 1 and 2 of scikit-learn digits (286 train / 73 test samples, unit
ball), a 4-layer bias-free ReLU MLP of width 128 with the same normalisation and ρ, SGD batch 32,
lr 0.03, momentum 0.9, cosine, 300 epochs.

Figures by module: :mod:`.fig1_2` (drawings, skipped), :mod:`.fig3_5` (ρ: its dynamics, random
labels, 1/ρ vs test accuracy), :mod:`.fig6_7` (the norm bound vs N), :mod:`.fig8_10` (margins
and neural collapse during training); :mod:`.shared` holds the common setting and its CPU
stand-in.
"""

from .fig1_2 import FIG1, FIG2
from .fig3_5 import FIG3, FIG4, FIG5
from .fig6_7 import FIG6, FIG7
from .fig8_10 import FIG8, FIG9, FIG10

EXPERIMENTS = (FIG1, FIG2, FIG3, FIG4, FIG5, FIG6, FIG7, FIG8, FIG9, FIG10)

__all__ = ["EXPERIMENTS", "FIG1", "FIG2", "FIG3", "FIG4", "FIG5", "FIG6", "FIG7", "FIG8", "FIG9",
           "FIG10"]
