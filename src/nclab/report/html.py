"""A static HTML report per experiment and scale: :func:`write_html_report`.

One file, ``out_dir/report.html``, CSS inline, no scripts, no server, nothing fetched. Figures
(PNG + SVG, from :func:`nclab.report.make_figures`) live in ``out_dir/figures/`` and are
referenced **relatively** by default (``<img src="figures/01-....png">``, linked to the SVG):
keep the folder together. ``inline=True`` embeds the PNGs as base64 instead, for a single
self-contained file to mail around (the SVG links are then left out).

Sections: header (paper, figure, scale overrides and grid, stored runs left out as not in the
current plan), claims (PASS / FAIL / NOT-RUN / ERROR with measured value, threshold and reason;
evaluated by :mod:`nclab.experiments.claims`), figures with notes, final metrics (per grid point a
table metric x layer of ``mean ± std`` over runs at each run's last step; std with ddof=0),
and the runs (when given).
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from nclab import __version__
from nclab.experiments.claims import evaluate
from nclab.experiments.spec import CLAIM_STATUSES, ClaimOutcome
from nclab.store import write_atomic

from .data import final_values, mean_std, natural_key, point_key, point_label, varying_keys
from .figures import PanelFigure, render_panels
from .panels import PER_LAYER_KINDS

REPORT_NAME = "report.html"
FIGURES_DIR = "figures"

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; margin-top: 1.8em; }
.meta { color: #555; } code { background: #f4f4f4; padding: 0 0.25em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.55em; text-align: left; vertical-align: top; }
th { background: #f6f6f6; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
.status { font-weight: 600; padding: 0.1em 0.5em; border-radius: 3px; white-space: nowrap; }
.PASS { background: #d9f2dd; color: #17612a; } .FAIL { background: #f9d9d9; color: #8a1212; }
.NOT-RUN { background: #eee; color: #555; } .ERROR { background: #8a1212; color: #fff; }
.figures { display: flex; flex-wrap: wrap; gap: 1.2em; }
figure { margin: 0; flex: 0 1 570px; max-width: 100%; } figure.wide { flex: 1 1 100%; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #444; max-width: 640px; }
.missing { color: #8a1212; }
"""


def _check_outcome(outcome, text: str) -> ClaimOutcome:
    if not isinstance(outcome, ClaimOutcome) or outcome.status not in CLAIM_STATUSES:
        raise ValueError(
            f"claim {text!r}: expected a ClaimOutcome with status in {CLAIM_STATUSES}, "
            f"got {outcome!r}"
        )
    return outcome


def write_html_report(
    experiment,
    results,
    out_dir,
    claims=None,
    *,
    inline: bool = False,
    runs: list[dict] | None = None,
) -> Path:
    """Draw the figures into ``out_dir/figures/`` and write ``out_dir/report.html``; return it.

    ``claims``: one :class:`ClaimOutcome` per ``experiment.claims`` (same order), or None to
    evaluate them on ``results`` (:func:`nclab.experiments.claims.evaluate`). ``runs``: rows of
    :meth:`nclab.store.Store.runs` to list (status, commit) at the end.
    """
    if results.experiment != experiment.id:
        raise ValueError(
            f"results are of experiment {results.experiment!r}, not {experiment.id!r}"
        )
    if claims is None:
        outcomes = [o for _, o in evaluate(experiment, results)]
    else:
        outcomes = list(claims)
        if len(outcomes) != len(experiment.claims):
            raise ValueError(
                f"claims: got {len(outcomes)} outcomes for {len(experiment.claims)} claims of "
                f"{experiment.id}"
            )
        outcomes = [_check_outcome(o, c.text) for o, c in zip(outcomes, experiment.claims,
                                                             strict=True)]
    out_dir = Path(out_dir)
    figures = render_panels(experiment, results, out_dir / FIGURES_DIR)
    body = [
        _header(experiment, results),
        _claims_section(experiment, outcomes),
        _figures_section(figures, out_dir, inline),
        _final_section(results),
    ]
    if runs is not None:
        body.append(_runs_section(runs))
    title = f"{experiment.id} ({results.scale}) — {experiment.title}"
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<p class=\"meta\">Generated {_e(_now())} by nclab {_e(__version__)}.</p>\n"
        "</body>\n</html>\n"
    )
    path = out_dir / REPORT_NAME
    write_atomic(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return path


# ---- sections --------------------------------------------------------------------------------
def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _header(experiment, results) -> str:
    n_runs = len(results.runs())
    parts = [
        f"<h1>{_e(experiment.title)}</h1>",
        f"<p class=\"meta\">experiment <code>{_e(experiment.id)}</code> · {_e(experiment.paper)}"
        f" · {_e(experiment.figure)} · scale <b>{_e(results.scale)}</b> · "
        f"{n_runs} finished run{'s' if n_runs != 1 else ''}</p>",
    ]
    if results.excluded:
        n = len(results.excluded)
        parts.append(f"<p class=\"meta\">{n} stored run{'s' if n != 1 else ''} not in the "
                     "current plan left out (e.g. of an older grid): not drawn, tabulated or "
                     "scored.</p>")
    if experiment.description:
        parts.append(f"<p>{_e(experiment.description)}</p>")
    scale = experiment.scales.get(results.scale)
    if scale is not None:
        grid = ", ".join(f"{k} ∈ {list(v)}" for k, v in scale.grid.items()) or "—"
        rows = [
            ("overrides", ", ".join(scale.overrides) or "—"),
            ("seeds", scale.seeds),
            ("grid", grid),
        ]
        if scale.note:
            rows.append(("note", scale.note))
        parts.append(
            "<table class=\"scale\">"
            + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
            + "</table>"
        )
    return "\n".join(parts)


def _claims_section(experiment, outcomes: list[ClaimOutcome]) -> str:
    if not experiment.claims:
        return "<h2 id=\"claims\">Claims</h2>\n<p>This experiment states no claims.</p>"
    counts = {s: sum(o.status == s for o in outcomes) for s in CLAIM_STATUSES}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items())
    rows = []
    for i, (claim, o) in enumerate(zip(experiment.claims, outcomes, strict=True), start=1):
        rows.append(
            f"<tr data-status=\"{_e(o.status)}\"><td>{i}</td><td>{_e(claim.text)}</td>"
            f"<td>{_e(claim.source)}</td>"
            f"<td><span class=\"status {_e(o.status)}\">{_e(o.status)}</span></td>"
            f"<td>{_e(o.measured)}</td><td>{_e(o.threshold)}</td><td>{_e(o.reason)}</td></tr>"
        )
    return (
        f"<h2 id=\"claims\">Claims</h2>\n<p>{_e(tally)}</p>\n<table class=\"claims\">"
        "<tr><th>#</th><th>claim</th><th>source</th><th>status</th><th>measured</th>"
        "<th>threshold</th><th>reason</th></tr>" + "".join(rows) + "</table>"
    )


def _figures_section(figures: list[PanelFigure], out_dir: Path, inline: bool) -> str:
    if not figures:
        return "<h2 id=\"figures\">Figures</h2>\n<p>This experiment defines no panels.</p>"
    items = []
    for k, f in enumerate(figures):
        if inline:
            data = base64.b64encode(f.png.read_bytes()).decode("ascii")
            img = f"<img src=\"data:image/png;base64,{data}\" alt=\"{_e(f.panel.title)}\">"
        else:
            png = f.png.relative_to(out_dir).as_posix()
            svg = f.svg.relative_to(out_dir).as_posix()
            img = (f"<a href=\"{_e(svg)}\"><img src=\"{_e(png)}\" "
                   f"alt=\"{_e(f.panel.title)}\"></a>")
        caption = (f"<b>{_e(f.panel.title)}</b> ({_e(f.panel.kind)}, "
                   f"<code>{_e(f.panel.metric)}</code>)")
        if f.missing:
            caption += f"<br><span class=\"missing\">{_e(f.missing)}</span>"
        for note in f.notes:
            caption += f"<br>{_e(note)}"
        wide = " class=\"wide\"" if f.panel.kind in PER_LAYER_KINDS else ""
        items.append(f"<figure id=\"fig-{k}\"{wide}>{img}<figcaption>{caption}</figcaption>"
                     "</figure>")
    return ("<h2 id=\"figures\">Figures</h2>\n<div class=\"figures\">\n" + "\n".join(items)
            + "\n</div>")


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _final_section(results) -> str:
    head = ("<h2>Final metrics</h2>\n<p>Mean ± std (ddof=0) over runs of each metric at the "
            "run's last recorded step; indexed metrics (spectra, matrices) are in the figures."
            "</p>")
    finals = final_values(results)
    if not finals:
        return head + "\n<p>No finished runs.</p>"
    run_points = {r["run_id"]: r["params"] for r in results.rows}
    points = {point_key(p): p for p in run_points.values()}
    n_runs: dict[str, int] = defaultdict(int)
    for params in run_points.values():
        n_runs[point_key(params)] += 1
    keys = varying_keys(list(points.values()))
    sections = [head]
    for pk in sorted(points):
        cells = {(layer, metric): v for (p, layer, metric), v in finals.items() if p == pk}
        if not cells:
            continue
        layers = sorted({k[0] for k in cells}, key=natural_key)
        metrics = sorted({k[1] for k in cells}, key=natural_key)
        label = point_label(points[pk], keys) if keys else "all runs"
        plural = "s" if n_runs[pk] != 1 else ""
        sections.append(f"<h3>{_e(label)} — {n_runs[pk]} run{plural}</h3>")
        rows = ["<tr><th>metric</th>" + "".join(f"<th>{_e(x)}</th>" for x in layers) + "</tr>"]
        for metric in metrics:
            tds = []
            for layer in layers:
                values = cells.get((layer, metric))
                if values is None:
                    tds.append("<td></td>")
                    continue
                mean, std, n = mean_std(values)
                text = _fmt(mean) if n == 1 else f"{_fmt(mean)} ± {_fmt(std)}"
                if n != n_runs[pk]:
                    text += f" (n={n})"
                tds.append(f"<td class=\"num\" data-layer=\"{_e(layer)}\" "
                           f"data-metric=\"{_e(metric)}\">{_e(text)}</td>")
            rows.append(f"<tr><th>{_e(metric)}</th>" + "".join(tds) + "</tr>")
        sections.append(
            f"<div class=\"scroll\"><table class=\"final-metrics\" data-point=\"{_e(pk)}\">"
            + "".join(rows) + "</table></div>"
        )
    return "\n".join(sections)


def _status_text(run: dict) -> str:
    """A run's status, with why for the runs that are not finished."""
    summary = run.get("summary") or {}
    why = run.get("damage") or summary.get("divergence") or summary.get("error")
    status = str(run.get("status"))
    return f"{status}: {why}" if why and status != "finished" else status


def _runs_section(runs: list[dict]) -> str:
    if not runs:
        return "<h2>Runs</h2>\n<p>No runs in the store.</p>"
    rows = ["<tr><th>run</th><th>seed</th><th>params</th><th>status</th><th>started</th>"
            "<th>finished</th><th>git commit</th></tr>"]
    for r in runs:
        commit = (r.get("git_commit") or "—")[:12]
        params = json.dumps(r.get("params") or {}, sort_keys=True)
        rows.append(
            f"<tr><td><code>{_e(r.get('run_id'))}</code></td><td>{_e(r.get('seed'))}</td>"
            f"<td>{_e(params)}</td><td>{_e(_status_text(r))}</td><td>{_e(r.get('started'))}</td>"
            f"<td>{_e(r.get('finished') or '—')}</td><td><code>{_e(commit)}</code></td></tr>"
        )
    return "<h2>Runs</h2>\n<div class=\"scroll\"><table class=\"runs\">" + "".join(rows) + \
        "</table></div>"
