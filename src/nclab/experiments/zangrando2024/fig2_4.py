"""Zangrando et al. Figs 2 and 4: singular values of the features vs the predictions, over δ."""

from __future__ import annotations

from nclab.experiments import checks as C
from nclab.experiments.common import SMOKE, curve, scales, spectrum, vs_param
from nclab.experiments.measures import (
    class_fit,
    feature_spectra,
)
from nclab.experiments.spec import Claim, Experiment, Scale

from .shared import FITTED, PAPER, SRC, digits_net, tanh_net

_SV_WHY = ("the prediction holds at a minimiser, reached only after training far past "
           "interpolation; at CPU budgets (20k Adam steps, data loss 1e-2) the mean relative "
           "error is 0.34 for every δ in 0.01..20 (measured), so its order in δ is noise")
# one tuple for both figures: their runs at a common δ are identical and trained once
_MEASURES = (feature_spectra("tanh"), class_fit())


def _delta_experiment(fig: str, deltas, cpu_deltas, title: str) -> Experiment:
    L = 5
    cpu = digits_net(10, 100, 10000, L)
    return Experiment(
        id=f"{PAPER}-{fig}", paper=PAPER, figure=fig.replace("fig", "Fig "), title=title,
        base=tanh_net(L, 200, 20, 50000, delta=1.0),
        scales=scales(
            paper=Scale(grid={"reg.first_layer_factor": deltas}, seeds=1, est_cpu_minutes=60,
                        note="MNIST N = 200, widths 200, 50k Adam steps (until the data loss "
                             "< 1e-6)"),
            cpu=Scale(grid={"reg.first_layer_factor": cpu_deltas}, seeds=1, overrides=cpu,
                      est_cpu_minutes=0.75 * len(cpu_deltas),
                      note="digits N = 100, widths 100, 10k Adam steps: the spectra only"),
            smoke=Scale(grid={"reg.first_layer_factor": cpu_deltas[:2]}, seeds=1,
                        overrides=(*digits_net(3, 16, 60, L), *SMOKE)),
        ),
        panels=(
            spectrum("singular values of Z^l: measured and predicted (Thm 4.2)",
                     tuple(f"layer{i}/post{s}" for i in range(1, L)
                           for s in ("", " (predicted)")),
                     metric="feat_sv"),
            vs_param("mean relative error of the predicted singular values vs δ", "sv_rel_error",
                     "reg.first_layer_factor", logx=True, logy=True),
            curve("data loss", "fit", ("model",)),
        ),
        claims=(
            Claim("the singular values converge to the predicted ones as δ -> 0: the mean "
                  "relative error decreases with δ",
                  C.trend("sv_rel_error", "model", "reg.first_layer_factor", "increasing"),
                  scales=("paper",), why=_SV_WHY,
                  source=f"{SRC} §5.2, {fig.replace('fig', 'Fig ')}"),
            Claim("training goes way past interpolation: final data loss < 1e-6 in every run",
                  C.compare("fit", "model", "<", 1e-6, agg="all"), scales=("paper",),
                  why="a data loss < 1e-6 needs the paper's long training",
                  source=f"{SRC} §5.2"),
        ),
        measures=_MEASURES, requires=FITTED,
        description="Features Z^1..Z^4 of a 5-layer tanh network against ŝ(Z^l) = "
                    "s(atanh(Z^{l+1})) computed layer-wise from the trained network (B.2.6).",
        source=f"{SRC} §5.2, {fig.replace('fig', 'Fig ')}; experiments.md C.2, B.2.6",
    )


FIG2 = _delta_experiment("fig2", [10.0, 5.0, 2.0, 0.1], [10.0, 2.0, 0.1],
                         "singular values of the features vs the Theorem 4.2 prediction, δ sweep")
FIG4 = _delta_experiment("fig4", [20.0, 10.0, 5.0, 2.0, 1.0, 0.5, 0.1, 0.01],
                         [20.0, 5.0, 1.0, 0.1, 0.01],
                         "singular values vs the Lemma B.1 / Thm 4.3 prediction, more δ (App. D.1)")


# ---- Fig 3: TCV -> 0 with L = 10, δ = 0 ---------------------------------------------------------
