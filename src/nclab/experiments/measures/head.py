"""Measures of the network's head (Jacot et al.): Theorem 3.1's bound on the linear head, NC1 and
NC2 at the input and the output of the linear head, and the balancedness and negativity of the
nonlinear head layers."""

from __future__ import annotations

import numpy as np
import torch

from nclab.experiments.spec import Measure

from .context import Context, row


def theorem31() -> Measure:
    """Jacot et al. Theorem 3.1 / B.1 on the trained linear head
    (:func:`nclab.theory.check_theorem31`): the features entering the linear head (output of
    the last ReLU layer) play the role of the input, the linear layers are the network
    (``num_nonlinear = 0``; the theorem's NC1 bound (18) involves only the head). Rows on
    layer ``model``: ``thm31/eps1`` (||Z_L - Y||_F), ``thm31/eps2`` (balancedness),
    ``thm31/nc1`` and its bound ``thm31/nc1_bound``, and ``thm31/preconditions`` (1 when the
    conditions of (18) hold: balanced classes, eps1 <= min(s_K(Y), sqrt((K-1)N/(4K))))."""
    from nclab.theory import HeadSnapshot, check_theorem31

    def fn(ctx: Context):
        outs = [o for o in ctx.outputs() if o.has_weight]
        last_nl = max(i for i, o in enumerate(outs) if not o.is_linear)
        Ws = [W.detach().double() for _, W in ctx.model.weight_matrices()][last_nl + 1:]
        if len(Ws) < 2:
            return []
        got = check_theorem31(HeadSnapshot(Ws, 0), outs[last_nl].post.double(), ctx.train.y)
        m, b = got["measured"], got["bounds"]
        return [row("model", "thm31/eps1", m["eps1"]), row("model", "thm31/eps2", m["eps2"]),
                row("model", "thm31/nc1", m["nc1"]), row("model", "thm31/nc1_bound", b["nc1"]),
                row("model", "thm31/preconditions", float(got["preconditions"]["eps1_small"]
                                                          and got["preconditions"][
                                                              "balanced_classes"]))]

    return Measure("theorem31", fn)


def head_io(n_linear_of=None) -> Measure:
    """NC1 (trace ratio) and NC2 (κ of the class means) of the two feature matrices of Jacot et
    al. Fig 2, under names that do not depend on the depth of the linear head: ``Z_L1`` = the
    input of the linear head (output of the last ReLU) and ``Z_L-1`` = the input of the last
    layer; also ``kappa_WL`` = κ(W_L) and ``kappa_head`` = κ(W_L ⋯ W_{L1+1})^{1/L2}, equal at
    exact balancedness (Jacot et al. Thm 5.2 sketch, experiments.md A.9 #38)."""
    from nclab.metrics import nc1_trace, nc2_cond

    def fn(ctx: Context):
        outs = [o for o in ctx.outputs() if o.has_weight]
        last_nl = max(i for i, o in enumerate(outs) if not o.is_linear)
        z_l1 = outs[last_nl].post.double()
        z_lm1 = outs[-2].post.double() if len(outs) > 1 else z_l1
        y = ctx.train.y
        rows = []
        for name, Z in (("Z_L1", z_l1), ("Z_L-1", z_lm1)):
            rows += [row(name, "nc1_trace", nc1_trace(Z, y)), row(name, "nc2_cond",
                                                                     nc2_cond(Z, y))]
        Ws = [W.detach().double() for _, W in ctx.model.weight_matrices()]
        lin = Ws[last_nl + 1:]
        if lin:
            P = lin[0]
            for W in lin[1:]:
                P = W @ P
            K = ctx.K
            s_p = torch.linalg.svdvals(P)
            s_l = torch.linalg.svdvals(lin[-1])
            rows += [row("model", "kappa_WL", float(s_l[0] / s_l[K - 1])),
                     row("model", "kappa_head",
                         float((s_p[0] / s_p[K - 1]) ** (1.0 / len(lin))))]
        return rows

    return Measure("head_io", fn)


def nonlinear_head_stats() -> Measure:
    """Min and mean over the nonlinear head layers of the balancedness of (W_ℓ, W_{ℓ+1}) and
    of the negativity of the pre-activation (Jacot et al. Fig 3; pairs assigned to layer ℓ,
    Part D #11), and the negativity of the last nonlinear layer, on layer ``model``."""
    from nclab.metrics import balancedness, negativity

    def fn(ctx: Context):
        outs = [o for o in ctx.outputs() if o.has_weight]
        Ws = dict(ctx.model.weight_matrices())
        names = [o.name for o in outs]
        nl = [o for o in outs if o.part == "head" and not o.is_linear]
        if not nl:
            return []
        bal = []
        for o in nl:
            nxt = names[names.index(o.name) + 1]
            bal.append(balancedness(Ws[o.name].detach(), Ws[nxt].detach()))
        neg = [negativity(o.pre) for o in nl]
        return [row("model", "bal_min", min(bal)), row("model", "bal_mean", float(np.mean(bal))),
                row("model", "neg_min", min(neg)), row("model", "neg_mean", float(np.mean(neg))),
                row("model", "neg_last", neg[-1])]

    return Measure("nonlinear_head_stats", fn)
