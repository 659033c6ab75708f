"""What the Jacot et al. figures share: the paper's MLP and ResNet20 configurations, the CPU
stand-in's data and optimiser, and the precondition of the collapse claims.
"""

from __future__ import annotations

from nclab.experiments import preconditions as P
from nclab.experiments.common import config

PAPER = "jacot2025"
SRC = "000"

CPU_DATA = ("data.name=digits", "data.n_per_class=20", "data.standardize=true",
            "model.init=lecun_normal", "model.init_scale=1.2", "optim.name=gd",
            "optim.lr=0.05", "optim.epochs=none", "optim.batch_size=none", "dtype=float32")


# collapse, balancedness and the use of the ReLU are properties of a network that learned every
# class (the regime of Theorems 3.1 and 4.x: a small fit error)
COLLAPSE = (P.every_class_learned(),)


def mlp_config(data: str, n_nonlinear: int, n_linear: int, width: int, wd: float, lr: float,
               epochs: int, n_backbone: int = 2) -> object:
    """The paper's MLP: ``n_nonlinear`` ReLU + ``n_linear`` linear layers of ``width``, MSE,
    weight decay ``wd`` on every parameter, SGD batch 128, ×0.1 at 80 %."""
    n_layers = n_nonlinear + n_linear
    widths = "[" + ",".join([str(width)] * (n_layers - 1)) + "]"
    return config(
        f"data.name={data}", "model.arch=mlp", f"model.widths={widths}",
        f"model.n_linear={n_linear}", f"model.n_backbone={n_backbone}", "loss.preset=torch_mse",
        "reg.scheme=standard", f"reg.weight_decay={wd}", "optim.name=sgd", f"optim.lr={lr}",
        "optim.batch_size=128", f"optim.epochs={epochs}", "schedule.name=step",
        "probe.points=40", "probe.batch_size=2000",
    )


def resnet_config(data: str, n_relu_head: int, n_linear: int, width: int, wd: float,
                  lr: float, epochs: int) -> object:
    """The paper's ResNet20 with a head of ``n_relu_head`` ReLU + ``n_linear`` linear layers of
    ``width``, MSE, weight decay ``wd`` on every parameter, SGD batch 128, ×0.1 at 80 %."""
    widths = "[" + ",".join([str(width)] * (n_relu_head + n_linear - 1)) + "]"
    return config(
        f"data.name={data}", "model.arch=resnet20", f"model.widths={widths}",
        f"model.n_linear={n_linear}", "loss.preset=torch_mse", "reg.scheme=standard",
        f"reg.weight_decay={wd}", "optim.name=sgd", f"optim.lr={lr}", "optim.batch_size=128",
        f"optim.epochs={epochs}", "schedule.name=step", "probe.points=40",
        "probe.batch_size=1000",
    )
