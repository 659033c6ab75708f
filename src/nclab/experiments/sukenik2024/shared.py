"""What the Súkeník et al. figures share: the paper's constants, the regime of the rank /
collapse claims, the theory reference lines of the loss panels and the end-to-end set-up
(ResNet20 + MLP head; CPU: an MLP backbone on digits) of Figs 2 (bottom), 4, 9 and 10.
"""

from __future__ import annotations

import math

import numpy as np

from nclab.experiments import checks as C
from nclab.experiments import preconditions as P
from nclab.experiments.common import CPU, config
from nclab.theory import dnc_loss, srg_loss

PAPER = "sukenik2024"
SRC = "002"
LAM = 0.004  # Fig 2 top: λ = 0.004 for every term, n = 50, width 30, lr 0.5

# the regime of the rank / collapse claims: a non-trivial solution (not the zero one, the global
# optimum when λ is large) with every class learned (a dropped class is not a low-rank bias);
# the loss comparisons (e.g. loss < L_DNC) are scored whatever solution GD found
REGIME = (P.below_zero_solution(), P.every_class_learned())


def reference_lines(K: int, L: int, lam: float = LAM,
                    n: int = 50) -> tuple[tuple[str, float], ...]:
    """The theory lines of a loss panel: L_DNC, and L_SRG when K = C(r, 2) with r >= 4."""
    refs = [("L_DNC", dnc_loss(K, L, lam, lam, n=n))]
    r = int(round((1 + math.sqrt(1 + 8 * K)) / 2))
    if r * (r - 1) // 2 == K and r >= 4:
        refs.append(("L_SRG", srg_loss(r, L, lam, lam, n=n)))
    return tuple(refs)


def end_to_end(backbone: str, K_data: str, head_layers: int, *, scheme: str, wd: float,
               feature_decay: float, lr: float, epochs: int, cpu_n: int, cpu_steps: int,
               cpu_lr: float, extra=()):
    """Paper: ResNet20 on CIFAR-10 / MNIST with an MLP head of ``head_layers`` layers (width
    64); CPU: a 2-layer MLP backbone (width 64) on digits with the same head and scheme."""
    widths = "[" + ",".join(["64"] * (head_layers - 1)) + "]"
    paper = config(
        f"data.name={K_data}", "model.arch=resnet20", f"model.widths={widths}",
        "loss.preset=p2_dufm", f"reg.scheme={scheme}", f"reg.weight_decay={wd}",
        f"reg.feature_decay={feature_decay}", "optim.name=sgd", f"optim.lr={lr}",
        "optim.batch_size=128", f"optim.epochs={epochs}", "probe.points=30",
        "probe.batch_size=1000", *extra,
    )
    cpu_widths = "[" + ",".join(["64"] * (head_layers + 1)) + "]"
    cpu = (
        "data.name=digits", f"data.n_per_class={cpu_n}", "data.standardize=true",
        "model.arch=mlp", f"model.widths={cpu_widths}", "model.n_linear=1",
        "model.n_backbone=2", "model.init=lecun_normal", "model.init_scale=1.2",
        "optim.name=gd", f"optim.lr={cpu_lr}", f"optim.steps={cpu_steps}",
        "optim.epochs=none", "optim.batch_size=none", "probe.batch_size=none", *CPU,
    )
    return paper, cpu


def backbone_skip(head_layers: int) -> str:
    """The override giving :func:`end_to_end`'s CPU stand-in an identity skip on its second
    backbone layer (H1 = ReLU(W2 z) + z, as ResNet20's blocks): with the plain layer the feature
    penalty pushes whole classes below that ReLU, where no gradient reaches them (Fig 2 bottom,
    Figs 9)."""
    flags = ["false"] * (head_layers + 2)
    flags[1] = "true"
    return f"model.residual=[{','.join(flags)}]"


E2E_NOTE = ("CPU stand-in (experiments.md C.3): 2-layer ReLU MLP backbone (width 64) on "
            "scikit-learn digits (N = 10 x n_per_class, standardised), the same head and "
            "regularisation scheme, full-batch GD, float32")


def avg_rank_below(K: int):
    """Claim check: the mean over runs of the average intermediate rank is below ``K``."""
    def fn(results):
        v = C.final(results, "avg_rank", "model")
        return bool(v.mean() < K), f"average rank per run {np.round(v, 2).tolist()}", \
            f"mean over runs < K = {K}"

    return C.custom(fn)
