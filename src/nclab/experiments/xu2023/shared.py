"""What the Xu et al. figures share: the paper's common setting (binary CIFAR-10, the six-layer
weight-normalised network, SGD with momentum and a cosine schedule), its CPU stand-in (digits
1 vs 2, a 4-layer weight-normalised MLP) and the interpolation precondition of the claims.
"""

from __future__ import annotations

from nclab.experiments import preconditions as P
from nclab.experiments.common import CPU, SMOKE, config

PAPER = "xu2023"
SRC = "003"


def paper_config(epochs: int, *, lam: float, init: float, lr: float = 0.03, batch: int = 128,
                 n: int = 5000, extra=()) -> object:
    """The paper's setting (binary CIFAR-10, the six-layer WN network, SGD + cosine) with
    ``epochs``, weight decay ``lam`` on ρ, init scale ``init``, ``n`` samples per class."""
    return config(
        "data.name=cifar10", "data.classes=[1,2]", f"data.n_per_class={n}",
        "data.test_split=test", "data.test_n_per_class=1000", "data.unit_ball=true",
        "model.arch=weightnorm", "model.widths=[1024]", "model.conv_channels=[32,64,128,128]",
        "model.kernel_size=3", "model.strides=[1,2,1,2]", f"model.init_scale={init}",
        "loss.preset=p3", "loss.targets=signed", "reg.scheme=rho", "reg.factor=1.0",
        f"reg.weight_decay={lam}", "optim.name=sgd", f"optim.lr={lr}", "optim.momentum=0.9",
        f"optim.batch_size={batch}", f"optim.epochs={epochs}", "schedule.name=cosine",
        "probe.points=40", "probe.batch_size=2000", *extra,
    )


CPU_STANDIN = ("data.name=digits", "data.n_per_class=none", "data.test_n_per_class=none",
               "model.conv_channels=[]", "model.widths=[128,128,128]", "optim.batch_size=32",
               "optim.epochs=300", "probe.batch_size=none", *CPU)
SMOKE_STANDIN = (*CPU_STANDIN, "optim.epochs=3", "data.n_per_class=10", "data.test_n_per_class=5",
                 *SMOKE)


def cpu_note(extra: str = "", epochs: int = 300) -> str:
    """The scale note of the CPU stand-in, with ``extra`` appended."""
    return ("digits classes 1/2, 4-layer WN ReLU MLP width 128, SGD batch 32, lr 0.03, "
            f"momentum 0.9, cosine, {epochs} epochs" + (f"; {extra}" if extra else ""))



# the norm-based bounds, ρ's equilibrium and the collapse of the margins are statements about
# trained networks: training error ≈ 0 (at most 1 %, a few samples of the CPU sets) in every run
TRAINED = P.interpolates(0.01)
