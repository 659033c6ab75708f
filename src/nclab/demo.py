"""``make demo`` / ``nclab demo``: three paper figures at the ``cpu`` scale in a few minutes.

- ``sukenik2024-fig2-top``: a 4-layer DUFM with K = 10 trained by gradient descent ends below
  the loss of deep neural collapse (L_DNC) and near the strongly-regular-graph solution
  (L_SRG), with low-rank intermediate class means (Súkeník et al. 2024, Fig 2 top);
- ``sukenik2024-fig3-left``: L_SRG / L_DNC for K = C(r, 2) classes from the closed forms;
- ``jacot2025-fig4``: a 9-layer MLP (digits stand-in for MNIST) with a 4-layer linear head:
  NC1 falls in every layer, NC2 improves layer by layer through the linear head, the linear
  layers balance (Jacot et al. 2025, Fig 4);
- ``papyan2020-fmnist``: a small CNN trained past zero training error on Fashion-MNIST, measured
  with ``nclab.analyze`` as a user would: NC1-NC4 keep falling in the terminal phase (Papyan,
  Han, Donoho 2020).

Prints a table per experiment, the paper's claims with PASS / FAIL, and the reports' paths.
"""

from __future__ import annotations

import html
import math
import os
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from nclab.console import RichProgress, print_claims

DEMO = (("sukenik2024-fig2-top", "cpu"), ("sukenik2024-fig3-left", "cpu"),
        ("jacot2025-fig4", "cpu"), ("papyan2020-fmnist", "cpu"))


def _mean(results, metric, layer):
    v = results.final(metric, layer)
    return (float(np.mean(v)), float(np.std(v))) if v.size else (math.nan, math.nan)


def _pm(pair, digits=4) -> str:
    m, s = pair
    if not math.isfinite(m):
        return ""
    return f"{m:.{digits}g} ± {s:.1g}" if s > 0 else f"{m:.{digits}g}"


def _dufm_tables(console, results) -> None:
    loss = _mean(results, "loss", "model")
    dnc = _mean(results, "ref/dnc_loss", "model")
    srg = _mean(results, "ref/srg_loss", "model")
    t = Table(title=f"4-DUFM, K = 10 ({len(results.runs())} runs): final loss vs theory",
              title_justify="left")
    for c in ("final loss", "L_SRG (theory)", "L_DNC (theory)", "loss / L_DNC"):
        t.add_column(c, justify="right")
    t.add_row(_pm(loss), f"{srg[0]:.4f}", f"{dnc[0]:.4f}", f"{loss[0] / dnc[0]:.3f}")
    console.print(t)
    t = Table(title="per layer (H~l / Hl: pre / post-activation; mean ± std over runs)",
              title_justify="left")
    for c in ("layer", "class-mean rank", "NC1 (pinv)", "NC2 κ (non-zero s.v.)", "negativity"):
        t.add_column(c, justify="right")
    for layer in ("H1", "H~2", "H2", "H~3", "H3", "H~4", "H4"):
        t.add_row(layer, _pm(_mean(results, "means_rank", layer), 3),
                  _pm(_mean(results, "nc1_pinv", layer), 3),
                  _pm(_mean(results, "nc2_cond", layer), 3),
                  _pm(_mean(results, "negativity", layer), 3))
    console.print(t)


def _ratio_table(console, results) -> None:
    rs, Ls = results.param_values("r"), results.param_values("L")
    t = Table(title="L_SRG / L_DNC (closed forms, λ = 1e-3, n = 1; < 1: SRG beats DNC)",
              title_justify="left")
    t.add_column("L \\ r")
    for r in rs:
        t.add_column(f"{r} (K={r * (r - 1) // 2})", justify="right")
    for L in Ls:
        t.add_row(str(L), *[f"{results.final('ratio', 'model', r=r, L=L).mean():.4f}"
                            for r in rs])
    console.print(t)


def _mlp_tables(console, results) -> None:
    t = Table(title=f"9-layer MLP on digits ({len(results.runs())} runs): per layer of the head "
                    "(Z0 = backbone output, Z~l / Zl = pre / post, Z4..Z8 linear)",
              title_justify="left")
    for c in ("layer", "NC1 tr(Σ_W)/tr(Σ_B)", "NC2 κ", "rank", "balancedness (W_l, W_l+1)",
              "negativity"):
        t.add_column(c, justify="right")
    for i in range(0, 8):
        layer = f"Z{i}"
        bal = _pm(_mean(results, "w_balancedness", f"W{i}"), 3) if i >= 1 else ""
        neg = _pm(_mean(results, "negativity", f"Z~{i}"), 3) if 1 <= i <= 3 else ""
        t.add_row(layer, _pm(_mean(results, "nc1_trace", layer), 3),
                  _pm(_mean(results, "nc2_cond", layer), 3),
                  _pm(_mean(results, "means_rank", layer), 3), bal, neg)
    acc = _mean(results, "accuracy", "model")
    console.print(t)
    console.print(f"training accuracy {_pm(acc, 4)}; final loss "
                  f"{_pm(_mean(results, 'loss', 'model'))}")


def _tpt_table(console, results) -> None:
    """Papyan et al. 2020: the penultimate layer epoch by epoch (first run), via nclab.analyze."""
    run = results.runs()[0] if results.runs() else None
    t = Table(title="small CNN on Fashion-MNIST, measured with nclab.analyze (penultimate layer; "
                    "TPT = training error 0)", title_justify="left")
    for c in ("epoch", "train err", "test err", "NC1 pinv", "equinorm", "equiangularity",
              "NC3 duality", "NCC mismatch"):
        t.add_column(c, justify="right")
    curves = {m: results.curve(m, layer).get(run) for m, layer in (
        ("train_error", "model"), ("test_error", "model"), ("nc1_pinv", "act"),
        ("nc2_equinorm", "act"), ("nc2_equiangularity", "act"), ("nc3_duality", "act"),
        ("nc4_ncc", "act"))}
    steps = curves["train_error"][0] if curves["train_error"] is not None else []
    if len(steps) > 16:  # every k-th measurement, the last and the first with training error 0
        err = curves["train_error"][1]
        keep = set(steps[::-(-len(steps) // 15)].tolist()) | {steps[-1]} | set(steps[err == 0][:1].tolist())
        steps = [s for s in steps if s in keep]
    for step in steps:
        vals = []
        for m, c in curves.items():
            v = dict(zip(*c, strict=True)).get(step, math.nan) if c is not None else math.nan
            vals.append(f"{1 - v if m == 'nc4_ncc' else v:.4g}")
        t.add_row(str(int(step)), *vals)
    console.print(t)


def _index(root: Path, reports: list[tuple[str, Path]]) -> Path:
    items = "\n".join(
        f'<li><a href="{html.escape(os.path.relpath(p, root))}">{html.escape(name)}</a></li>'
        for name, p in reports)
    path = root / "demo.html"
    path.write_text(f"<!doctype html><meta charset='utf-8'><title>nclab demo</title>"
                    f"<h1>nclab demo reports</h1><ul>{items}</ul>\n")
    return path


def run_demo(root="runs", jobs: int | None = None, console: Console | None = None) -> int:
    """Run the demo experiments into the store at ``root``; returns an exit code."""
    from nclab.experiments.claims import evaluate, planned_results
    from nclab.experiments.registry import get
    from nclab.report import build_report
    from nclab.running import run_experiments
    from nclab.running.backends import LocalExecutor
    from nclab.store import Store

    console = console or Console(highlight=False)
    jobs = jobs or min(2, os.cpu_count() or 1)
    store = Store(root)
    t0 = time.perf_counter()
    console.print(f"[bold]nclab demo[/bold]: {', '.join(e for e, _ in DEMO)} at the cpu scale, "
                  f"{jobs} job(s), store {store.root}")
    reports, failed = [], False
    exps = [(get(exp_id), scale) for exp_id, scale in DEMO]
    outcomes = run_experiments(exps, store, progress=RichProgress(console, "nclab demo"),
                               executor=LocalExecutor(jobs=jobs))
    interrupted = any(o.interrupted for o in outcomes)
    for (exp, scale), outcome in zip(exps, outcomes, strict=True):
        if interrupted:
            break
        failed |= bool(outcome.failed)
        results = planned_results(store, exp, scale)  # the runs of the demo's plan only
        console.print()
        if exp.id == "sukenik2024-fig2-top":
            _dufm_tables(console, results)
        elif exp.id == "sukenik2024-fig3-left":
            _ratio_table(console, results)
        elif exp.id == "papyan2020-fmnist":
            _tpt_table(console, results)
        else:
            _mlp_tables(console, results)
        print_claims(console, exp, evaluate(exp, results))
        reports.append((exp.id, build_report(store, exp, scale)))
    if interrupted:
        console.print("[yellow]interrupted[/yellow]: run the demo again to resume")
        return 130
    index = _index(store.root, reports)
    console.print(f"\ndemo finished in {time.perf_counter() - t0:.0f} s")
    for name, path in reports:
        console.print(f"report {name}: {path}")
    console.print(f"all reports: {index}")
    return 1 if failed else 0


def main() -> None:
    raise SystemExit(run_demo(os.environ.get("NCLAB_RUNS") or "runs"))


if __name__ == "__main__":
    main()
