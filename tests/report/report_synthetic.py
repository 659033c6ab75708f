"""Synthetic results with every panel kind's encoding, built from closed-form values."""

import numpy as np

from nclab.experiments.spec import Claim, ClaimOutcome, Experiment, Panel, Scale

WDS = (0.001, 0.01)
SEEDS = (0, 1)
LAYERS = ("layer1/post", "layer2/post", "layer10/post")
STEPS = (0, 10, 100, 1000)
K = 3
N_POINTS = 6


def nc1(wd, seed, layer_i, step):
    return (1 + seed) * wd * 1000 * (layer_i + 1) / (1 + step)


def sv(wd, seed, layer_i, i, step):
    return (4 - i) * (1 + wd) * (layer_i + 1) + 0.1 * seed + (5.0 if step < STEPS[-1] else 0.0)


def gram(wd, seed, layer_i, i, j):
    return (1.0 if i == j else -0.5) * (layer_i + 1) + 0.01 * seed


def proj(seed, layer_i, i, axis):
    return float(i + 10 * axis + seed + layer_i)


def margin(wd, seed, i):
    return 0.1 * i + wd + seed


def synthetic_rows():
    rows = []
    for wd in WDS:
        for seed in SEEDS:
            run = f"seed{seed}-wd{wd}"
            base = {"experiment": "synth", "scale": "cpu", "run_id": run, "seed": seed,
                    "params": {"optim.weight_decay": wd}}

            def add(step, layer, metric, value, base=base):
                rows.append({**base, "step": step, "layer": layer, "metric": metric,
                             "value": float(value)})

            for step in STEPS:
                add(step, "model", "loss", 1.0 / (1 + step) + wd)
                for li, layer in enumerate(LAYERS):
                    add(step, layer, "nc1_trace", nc1(wd, seed, li, step))
            for li, layer in enumerate(LAYERS):
                for step in (STEPS[1], STEPS[-1]):  # an earlier spectrum that must be ignored
                    for i in range(4):
                        add(step, layer, f"sv[{i}]", sv(wd, seed, li, i, step))
                for i in range(K):
                    for j in range(K):
                        add(STEPS[-1], layer, f"G[{i},{j}]", gram(wd, seed, li, i, j))
                for i in range(N_POINTS):
                    add(STEPS[-1], layer, f"P[{i},0]", proj(seed, li, i, 0))
                    add(STEPS[-1], layer, f"P[{i},1]", proj(seed, li, i, 1))
                    add(STEPS[-1], layer, f"P_class[{i}]", i % K)
            for i in range(5):
                add(STEPS[-1], "model", f"margin[{i}]", margin(wd, seed, i))
    return rows


PANELS = (
    Panel("NC1 vs step", "curve", "nc1_trace", logx=True, logy=True,
          reference=(("zero-ish", 1e-3),)),
    Panel("Final NC1 vs weight decay", "vs_param", "nc1_trace", x="optim.weight_decay",
          logx=True),
    Panel("Singular values", "spectrum", "sv", logy=True),
    Panel("Class-mean Gram", "gram", "G"),
    Panel("Random 2D projection", "projection", "P"),
    Panel("Margins", "histogram", "margin", reference=(("target", 0.2),)),
    Panel("Final loss", "bar", "loss"),
)


def pass_check(results):
    value = float(results.final("nc1_trace", "layer1/post").max())
    return ClaimOutcome("PASS" if value < 1 else "FAIL", f"{value:.3g}", "< 1")


def fail_check(results):
    return ClaimOutcome("FAIL", "2.0", "< 1 <strict>")


def broken_check(results):
    raise KeyError("no such metric 'nc9'")


CLAIMS = (
    Claim("NC1 <b>falls</b> below 1", pass_check, source="P0 §5"),
    Claim("loss is negative", fail_check, source="P1 Fig 2"),
    Claim("only at paper scale", pass_check, scales=("paper",)),
    Claim("a claim whose check breaks", broken_check),
)


def synthetic_experiment(panels=PANELS, claims=CLAIMS):
    return Experiment(
        id="synth", paper="P0", figure="Fig 1", title="Synthetic collapse",
        base=None, scales={"cpu": Scale(seeds=2, grid={"optim.weight_decay": list(WDS)},
                                        overrides=("optim.lr=0.1",))},
        panels=panels, claims=claims, description="Closed-form records for the report tests.",
    )


def mean_std(values):
    arr = np.asarray(values, dtype=float)
    return arr.mean(), arr.std()
