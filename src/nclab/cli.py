"""nclab: reproduce the figures of four papers on neural collapse and low-rank bias.

Commands: list, run, verify, report, runs, measure, theory, demo. Every command takes --help.
Runs go to a store directory (--out, else $NCLAB_RUNS, else ./runs); running a command again
skips finished (and diverged) runs and resumes the others. Run statuses: finished, diverged,
failed, interrupted, running, damaged. Exit codes: 0 success, 1 a run failed or diverged or a
claim failed, 2 usage errors (unknown experiment, bad --set value, unreadable input file,
unwritable --out), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nclab import __version__

RUNS_ENV = "NCLAB_RUNS"
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A bad argument: printed as ``nclab: error: ...`` with exit code 2."""


def _root(args) -> Path:
    return Path(args.out or os.environ.get(RUNS_ENV) or "runs")


def _writable_root(args) -> Path:
    """The store root, created if needed; a UsageError if it cannot be written."""
    import tempfile

    root = _root(args)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test-"):
            pass
    except OSError as err:
        raise UsageError(f"--out {root}: cannot write there ({err.strerror or err})") from None
    return root


def _report_damage(console, store, experiment=None) -> None:
    """One line per damaged store file (readers leave those runs out and go on)."""
    for line in store.damaged(experiment):
        console.print(f"[red]damaged:[/red] {line}")


def _console(args=None, stderr: bool = False) -> Console:
    err = stderr or bool(getattr(args, "json", False))
    stream = sys.stderr if err else sys.stdout
    width = None if stream.isatty() else 132  # pipes and files: wide tables, no wrapping
    return Console(stderr=err, highlight=False, soft_wrap=False, width=width)


def _fmt(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return str(v)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            return _jsonable(obj.item())
        except (TypeError, ValueError):
            pass
    return obj


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(_jsonable(obj), indent=2) + "\n")
    sys.stdout.flush()


def _get(exp_id: str):
    from nclab.experiments.registry import UnknownExperiment, get

    try:
        return get(exp_id)
    except UnknownExperiment as err:
        raise UsageError(str(err)) from None


# ---- list ------------------------------------------------------------------------------------
def cmd_list(args) -> int:
    from nclab.experiments.registry import all_experiments

    rows = []
    for exp in all_experiments():
        if args.paper and exp.paper != args.paper:
            continue
        rows.append((0, exp))
        rows += [(1, part) for part in exp.parts]
    if args.json:
        _print_json([_describe(e, depth) for depth, e in rows])
        return EXIT_OK
    table = Table(title="nclab experiments: scales s(moke) c(pu) p(aper); cpu min = estimated "
                        "CPU minutes of the cpu scale on one core", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("figure", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("scales", no_wrap=True)
    table.add_column("cpu min", justify="right", no_wrap=True)
    table.add_column("what", overflow="fold")
    for depth, e in rows:
        scales = "".join(k[0] for k in e.scales) if e.scales else "-"
        est = e.scales.get("cpu").est_cpu_minutes if "cpu" in e.scales else None
        if e.parts:
            scales = "parts"
            ests = [p.scales["cpu"].est_cpu_minutes for p in e.leaves() if "cpu" in p.scales]
            est = sum(x for x in ests if x is not None) if ests else None
        what = f"SKIPPED: {e.skipped}" if e.skipped else e.title
        table.add_row(("  " * depth) + e.id, e.figure, e.kind, scales,
                      "" if est is None else f"{est:g}", what)
    _console().print(table)
    return EXIT_OK


def _describe(e, depth: int = 0) -> dict:
    return {
        "id": e.id, "paper": e.paper, "figure": e.figure, "kind": e.kind, "title": e.title,
        "part_of_composite": bool(depth), "parts": [p.id for p in e.parts],
        "skipped": e.skipped or None,
        "scales": {k: {"seeds": s.seeds, "grid": {g: list(v) for g, v in s.grid.items()},
                       "est_cpu_minutes": s.est_cpu_minutes, "note": s.note}
                   for k, s in e.scales.items()},
        "claims": [c.text for c in e.claims], "panels": [p.title for p in e.panels],
    }


# ---- run -------------------------------------------------------------------------------------
class RichProgress:
    """A rich progress display: run i/n, its step, the loss and the time left for the grid."""

    def __init__(self, console: Console, label: str, enabled: bool = True):
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console, self.label, self.enabled = console, label, enabled
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console, transient=False, disable=not enabled,
        )
        self.task = None
        self.n = 0
        self.frac: dict[int, float] = {}
        self.current: dict[int, str] = {}
        self.t0 = time.perf_counter()

    # the runner's Progress protocol
    def start(self, runs, done) -> None:
        self.n = len(runs)
        self.runs = runs
        self.frac = {i: 1.0 for i, d in enumerate(done) if d}
        self.bar.start()
        self.task = self.bar.add_task(self.label, total=max(self.n, 1), info="")
        self._update()

    def run_start(self, index, prun, resumed_at) -> None:
        note = f" (resumed at step {resumed_at})" if resumed_at else ""
        self.current[index] = f"{prun.experiment.id} {prun.run_id}{note}"
        self.frac.setdefault(index, 0.0)
        self._update()

    def step(self, index, step, total, loss) -> None:
        self.frac[index] = step / total if total else 1.0
        loss_text = "" if loss != loss else f"  loss {loss:.4g}"
        self.info = f"run {index + 1}/{self.n}  step {step}/{total}{loss_text}"
        self._update()

    def run_end(self, index, prun, outcome) -> None:
        self.frac[index] = 1.0
        self.current.pop(index, None)
        if outcome.status == "failed":
            self.console.print(f"[red]run {prun.experiment.id}/{prun.run_id} failed:[/red] "
                               f"{outcome.error}")
        elif outcome.status == "busy":
            self.console.print(f"[yellow]waiting:[/yellow] {outcome.error}")
        elif outcome.status == "diverged":
            self.console.print(f"[yellow]run {prun.experiment.id}/{prun.run_id} diverged:"
                               f"[/yellow] {outcome.summary.get('divergence')}")
        self._update()

    def close(self) -> None:
        self._update()
        self.bar.stop()

    def _update(self) -> None:
        if self.task is None:
            return
        done = sum(self.frac.values())
        info = getattr(self, "info", "")
        self.bar.update(self.task, completed=done, info=info,
                        description=f"{self.label} [{int(done)}/{self.n} runs]")


def _print_claims(console, exp, outcomes) -> None:
    if not outcomes:
        return
    table = Table(title=f"claims of {exp.id}", title_justify="left", show_lines=False)
    for col in ("status", "claim", "measured", "threshold / reason"):
        table.add_column(col, overflow="fold")
    colors = {"PASS": "green", "FAIL": "red", "NOT-RUN": "yellow", "ERROR": "red"}
    for text, o in outcomes:
        table.add_row(f"[{colors[o.status]}]{o.status}[/]", text, o.measured,
                      o.threshold or o.reason)
    console.print(table)


def _run_summary(store, leaf, scale, outcome_runs, run_ids) -> dict:
    """The runs of ``leaf`` made or skipped by this call, and its claims scored on the runs
    ``run_ids`` (the plan of this call)."""
    from nclab.experiments.claims import evaluate, planned_results

    results = planned_results(store, leaf, scale, run_ids=run_ids)
    claims = evaluate(leaf, results)
    runs = []
    for r in outcome_runs:
        if r.experiment != leaf.id:
            continue
        info = store.inspect(leaf.id, scale, r.run_id)
        entry = {"run_id": r.run_id, "status": info.status, "outcome": r.status, "dir": r.path,
                 "error": r.error or None}
        if info.summary is not None:
            summary = info.summary.get("summary", {})
            entry["final"] = summary.get("final")
            entry["loss_parts"] = summary.get("loss_parts")
            entry["diverged"] = summary.get("diverged")
            entry["divergence"] = summary.get("divergence")
            entry["error"] = entry["error"] or summary.get("error")
        if info.damage:
            entry["damage"] = info.damage
        runs.append(entry)
    return {
        "experiment": leaf.id, "scale": scale, "runs": runs, "left_out": len(results.excluded),
        "claims": [{"claim": t, "status": o.status, "measured": o.measured,
                    "threshold": o.threshold, "reason": o.reason} for t, o in claims],
    }, claims


def backend_args(p) -> None:
    """The options that choose where and how runs execute (``run``, ``verify``, ``demo``)."""
    p.add_argument("--backend", choices=("local", "ray", "slurm"), default="local",
                   help="local (default): vectorised groups in this process (--jobs N: N "
                   "worker processes); ray: Ray tasks on a cluster (pip install 'nclab[ray]'); "
                   "slurm: a submitit job array (pip install 'nclab[slurm]')")
    p.add_argument("--no-vmap", action="store_true",
                   help="train every run on its own (no vectorised groups of compatible runs)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the vectorised step (pays off for long runs)")
    p.add_argument("--address", metavar="ADDR",
                   help="Ray cluster address (auto, HOST:PORT, ray://HOST:10001); default: a "
                   "local Ray instance with --jobs CPUs")
    p.add_argument("--slurm", action="append", metavar="KEY=VALUE",
                   help="submitit executor parameter, repeatable (e.g. slurm_partition=gpu, "
                   "timeout_min=120, gpus_per_node=1; cluster=local runs jobs as processes)")


def executor_of(args):
    """The executor chosen by :func:`backend_args`' options."""
    from nclab.running.backends import make_executor

    params: dict = {}
    for item in getattr(args, "slurm", None) or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--slurm {item!r}: expected KEY=VALUE")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    if args.backend != "slurm" and params:
        raise UsageError("--slurm applies to --backend slurm only")
    if args.backend != "ray" and args.address:
        raise UsageError("--address applies to --backend ray only")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    cluster = params.pop("cluster", None)
    executor = make_executor(args.backend, vmap=not args.no_vmap, jobs=args.jobs,
                             compile=args.compile, address=args.address,
                             slurm_parameters=params)
    if cluster is not None:
        executor.cluster = cluster
    return executor


def cmd_run(args) -> int:
    from nclab.report import build_report
    from nclab.running import PlanError, plan, run_experiment
    from nclab.store import Store

    exp = _get(args.experiment)
    try:
        planned = plan(exp, args.scale, seeds=args.seeds, sets=args.set or (),
                       device=args.device, data_dir=args.data_dir)
    except PlanError as err:
        raise UsageError(str(err)) from None
    store = Store(_writable_root(args))
    console = _console(args)
    console.print(f"[bold]{exp.id}[/bold] ({exp.paper}, {exp.figure}): {exp.title}\n"
                  f"scale {args.scale}: {len(planned)} runs -> {store.root}")
    for leaf in exp.leaves():  # these are trained again, their damaged files set aside
        _report_damage(console, store, leaf.id)
    progress = RichProgress(console, exp.id, enabled=not args.quiet)
    try:
        outcome = run_experiment(
            exp, store, args.scale, seeds=args.seeds, sets=args.set or (), device=args.device,
            data_dir=args.data_dir, progress=progress, overwrite=args.overwrite,
            executor=executor_of(args),
        )
    except PlanError as err:
        raise UsageError(str(err)) from None
    if outcome.interrupted:
        console.print("[yellow]interrupted[/yellow]: finished runs are stored; run the same "
                      "command again to resume the others")
        if args.json:
            _print_json({"experiment": exp.id, "scale": args.scale, "interrupted": True})
        return EXIT_INTERRUPTED
    summaries, reports, any_fail = [], [], False
    for leaf in exp.leaves():
        ids = [p.run_id for p in planned if p.experiment.id == leaf.id]
        summary, claims = _run_summary(store, leaf, args.scale, outcome.runs, ids)
        if not args.no_report:
            report = build_report(store, leaf, args.scale, run_ids=ids)
            summary["report"] = str(report)
            reports.append(report)
        summaries.append(summary)
        any_fail |= any(o.status in ("FAIL", "ERROR") for _, o in claims)
        if not args.json:
            _print_claims(console, leaf, claims)
            if summary["left_out"]:
                console.print(f"[yellow]{summary['left_out']} stored run(s) of {leaf.id} not "
                              "in this plan were left out of the claims[/yellow]")
    failed = [r for r in outcome.runs if r.status == "failed"]
    n_new = sum(r.status in ("finished", "diverged") for r in outcome.runs)
    n_skip = sum(r.status == "skipped" for r in outcome.runs)
    counts = {s: sum(r.stored == s for r in outcome.runs) for s in ("finished", "diverged")}
    console.print(f"{n_new} runs trained, {n_skip} already done, {len(failed)} failed; "
                  f"stored: {counts['finished']} finished, {counts['diverged']} diverged "
                  f"({outcome.seconds:.1f} s)")
    if counts["diverged"]:
        console.print("[yellow]diverged runs are left out of the claims[/yellow] "
                      "(`nclab runs --status diverged` lists them)")
    for report in reports:
        console.print(f"report: {report}")
    if args.json:
        _print_json({"experiment": exp.id, "scale": args.scale, "store": str(store.root),
                     "seconds": outcome.seconds, "experiments": summaries})
    return EXIT_FAIL if failed or counts["diverged"] else EXIT_OK


# ---- verify ----------------------------------------------------------------------------------
def cmd_verify(args) -> int:
    from nclab.experiments.registry import all_experiments
    from nclab.running import PlanError
    from nclab.store import Store
    from nclab.verify import (
        STATUSES,
        as_json,
        exit_code,
        status_markdown,
        update_readme,
        verify,
        write_reproduction_html,
    )

    exps = [_get(e) for e in args.experiments] if args.experiments else list(all_experiments())
    store = Store(_root(args) if args.no_run else _writable_root(args))
    console = _console(args, stderr=args.json)
    executor = executor_of(args) if not args.no_run else None

    leaves = [leaf for e in exps for leaf in e.leaves()]
    progress = RichProgress(console, f"verify: {len(leaves)} experiments at {args.scale}",
                            enabled=not (args.quiet or args.json))
    t0 = time.perf_counter()

    def trained():
        if not args.json and not args.no_run:
            console.print(f"runs made in {time.perf_counter() - t0:.0f} s; evaluating claims")

    def done(check):
        if args.json:
            return
        n = check.counts
        console.print(f"[bold]{check.experiment}[/bold] ({check.figure}): {check.runs} runs, "
                      f"training {check.compute_seconds:.1f} CPU-s, checks "
                      f"{check.seconds:.1f} s  [green]{n['PASS']} PASS[/] [red]{n['FAIL']} "
                      f"FAIL[/] [yellow]{n['NOT-RUN']} NOT-RUN[/]"
                      + (f" [red]{n['ERROR']} ERROR[/]" if n["ERROR"] else "")
                      + (f" ({check.left_out} stored runs not in the current plan left out)"
                         if check.left_out else "")
                      + (f"  [red]{check.error}[/]" if check.error else ""))
        _print_verdicts(console, check)

    try:
        checks = verify(exps, store, args.scale, run=not args.no_run, executor=executor,
                        progress=progress, on_done=done, on_trained=trained)
    except PlanError as err:
        raise UsageError(str(err)) from None
    wall = time.perf_counter() - t0
    page = write_reproduction_html(checks, Path(args.html) if args.html
                                   else store.root / "reproduction.html")
    command = "nclab verify --scale " + args.scale + (" --no-run" if args.no_run else "")
    if args.readme:
        update_readme(args.readme, status_markdown(checks, command, wall))
    if args.json:
        _print_json({"scale": args.scale, "store": str(store.root), "html": str(page),
                     "wall_seconds": wall,
                     "experiments": as_json(checks)})
    else:
        totals = {s: sum(ch.counts[s] for ch in checks) for s in STATUSES}
        console.print(f"\n{len(checks)} experiments at {args.scale}: {totals['PASS']} PASS, "
                      f"{totals['FAIL']} FAIL, {totals['NOT-RUN']} NOT-RUN, {totals['ERROR']} "
                      f"ERROR in {wall:.0f} s (wall; training "
                      f"{sum(ch.compute_seconds for ch in checks) / 60:.1f} CPU-min)\n"
                      f"reproduction report: {page}")
    if any(ch.interrupted for ch in checks):
        return EXIT_INTERRUPTED
    return exit_code(checks)


def _print_verdicts(console, check) -> None:
    if not check.claims:
        return
    table = Table(show_header=True, show_lines=False, box=None, pad_edge=False)
    for col in ("status", "claim", "measured", "threshold / reason"):
        table.add_column(col, overflow="fold")
    colors = {"PASS": "green", "FAIL": "red", "NOT-RUN": "yellow", "ERROR": "red"}
    for c in check.claims:
        table.add_row(f"[{colors[c.status]}]{c.status}[/]", c.text, c.measured,
                      c.threshold if c.status in ("PASS", "FAIL") else c.reason)
    console.print(table)


# ---- report ----------------------------------------------------------------------------------
def cmd_report(args) -> int:
    from nclab.report import build_report
    from nclab.store import Store

    store = Store(_root(args))
    target = args.target
    path = Path(target)
    if path.is_dir() and (path / "config.json").is_file():
        from nclab.store.integrity import inspect_run

        info = inspect_run(path)  # the directory names the run even if its files are damaged
        _report_damage(_console(stderr=True), Store(path.parents[2]), info.experiment)
        exp_id, scales = info.experiment, [info.scale]
        store = Store(path.parents[2])
    else:
        exp_id, scales = target, None
        rows = store.runs(where=f"run_id = '{target}'") if "'" not in target else []
        if rows and not _is_experiment(target):
            exp_id, scales = rows[0]["experiment"], [rows[0]["scale"]]
    if not _is_experiment(exp_id) and store.root.is_dir() and store.runs(exp_id):
        from nclab.integrations.monitor import records_experiment  # a Monitor's own runs

        exp = records_experiment(store, exp_id)
    else:
        exp = _get(exp_id)
    written = []
    for leaf in exp.leaves():
        found = scales or ([args.scale] if args.scale else
                           [s for s in leaf.scales if store.runs(leaf.id, scale=s)])
        for scale in found:
            if scale not in leaf.scales:
                continue
            written.append(build_report(store, leaf, scale))
    if not written:
        raise UsageError(f"no runs of {exp.id} in {store.root}; run `nclab run {exp.id}` first")
    for p in written:
        _console().print(f"report: {p}")
    return EXIT_OK


def _is_experiment(text: str) -> bool:
    from nclab.experiments.registry import ids

    return text in ids()


# ---- runs ------------------------------------------------------------------------------------
def cmd_runs(args) -> int:
    from nclab.store import Store

    store = Store(_root(args))
    try:
        if args.sql:
            rows = store.query(args.sql)
        else:
            rows = store.runs(args.exp, scale=args.scale, status=args.status, where=args.where)
    except Exception as err:  # noqa: BLE001 -- DuckDB errors are user errors here
        raise UsageError(f"query failed: {err}") from None
    _report_damage(_console(stderr=True), store, args.exp)
    if args.json:
        _print_json(rows)
        return EXIT_OK
    if not rows:
        _console().print(f"no runs in {store.root}")
        return EXIT_OK
    if args.sql:
        cols = list(rows[0])
    else:
        cols = ["experiment", "scale", "run_id", "status", "seed", "params", "finished"]
    table = Table(title=f"{len(rows)} rows from {store.root}", title_justify="left")
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*[(json.dumps(r[c]) if isinstance(r.get(c), (dict, list)) else _fmt(r[c]))
                        if r.get(c) is not None else "" for c in cols])
    _console().print(table)
    return EXIT_OK


# ---- measure ---------------------------------------------------------------------------------
def _load_arrays(path: Path) -> dict:
    import numpy as np

    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if path.suffix == ".npz":
        with open(path, "rb") as fh:
            if fh.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):  # else np.load tries pickle
                raise UsageError(f"{path}: not a readable .npz file (not a zip archive)")
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except ValueError as err:
            if "allow_pickle" in str(err):
                raise UsageError(f"{path}: {err} (object arrays are refused)") from None
            raise UsageError(f"{path}: not a readable .npz file ({err})") from None
        except Exception as err:  # noqa: BLE001 -- zip / I/O errors of a damaged file
            raise UsageError(f"{path}: not a readable .npz file ({type(err).__name__}: "
                             f"{err})") from None
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            return load_file(str(path))
        except Exception as err:  # noqa: BLE001 -- SafetensorError, I/O errors
            raise UsageError(f"{path}: not a readable .safetensors file ({type(err).__name__}: "
                             f"{err})") from None
    raise UsageError(f"{path}: expected a .npz or .safetensors file")


def _labels(y, key: str):
    """Integer class labels from the labels array ``y``: integers, whole-valued floats or
    one-hot rows; anything else (fractions, soft labels, bool, strings) is a UsageError."""
    import numpy as np

    if y.dtype.kind not in "iuf":
        raise UsageError(f"labels {key!r} must be integer class labels, got dtype {y.dtype}")
    if y.ndim == 2:
        one_hot = bool(np.isin(y, (0, 1)).all()) and bool((y.sum(1) == 1).all())
        if not one_hot:
            raise UsageError(f"labels {key!r} are 2-D but not one-hot (each row a single 1): "
                             "soft labels have no class; save the class indices")
        y = y.argmax(1)
    if y.ndim != 1:
        raise UsageError(f"labels {key!r} must be 1-D class indices (or one-hot rows), got "
                         f"shape {y.shape}")
    if y.dtype.kind == "f":
        if not bool(np.isfinite(y).all()) or not bool((y == np.round(y)).all()):
            raise UsageError(f"labels {key!r} hold non-integer values (e.g. "
                             f"{y[(y != np.round(y)) | ~np.isfinite(y)][0]!r}); labels are "
                             "class indices 0..K-1")
        if np.abs(y).max(initial=0) >= 2.0**53:
            raise UsageError(f"labels {key!r} are too large to be class indices")
    return y.astype(np.int64)


def cmd_measure(args) -> int:

    from nclab.metrics import layer_report

    arrays = _load_arrays(Path(args.file))
    label_key = args.labels
    if label_key is None:
        label_key = next((k for k in ("y", "labels", "targets") if k in arrays), None)
    if label_key is None or label_key not in arrays:
        raise UsageError(f"no labels: pass --labels KEY (keys: {', '.join(arrays)})")
    y = _labels(arrays[label_key], label_key)
    weight_keys = []
    for pattern in args.weights or ():
        matched = [k for k in arrays if k == pattern or
                   (pattern.endswith("*") and k.startswith(pattern[:-1]))]
        if not matched:
            raise UsageError(f"--weights {pattern!r} matches no array (keys: {', '.join(arrays)})")
        weight_keys += [k for k in matched if k not in weight_keys]
    rest = [k for k in arrays if k != label_key and k not in weight_keys]
    feats = {k: arrays[k] for k in rest if arrays[k].ndim == 2 and len(arrays[k]) == len(y)}
    ignored = [k for k in rest if k not in feats]
    if not feats:
        raise UsageError(f"no feature arrays of shape (N={len(y)}, D) besides the labels and "
                         f"weights (keys: {', '.join(arrays)})")
    last = arrays[weight_keys[-1]] if weight_keys else None
    K = int(y.max()) + 1 if y.size and y.min() >= 0 else None
    if (last is not None and last.ndim == 2 and K is not None and last.shape[1] == K
            and last.shape[0] != K and last.shape[0] in {f.shape[1] for f in feats.values()}):
        raise UsageError(f"--weights {weight_keys[-1]!r} has shape {last.shape} = (D, K): the "
                         f"classifier must be (K, D) = ({K}, {last.shape[0]}), one row per "
                         "class; save its transpose")
    try:
        report = layer_report(feats, y, {k: arrays[k] for k in weight_keys} or None,
                              classifier_input=args.classifier_input)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.json:
        _print_json({"file": args.file, "labels": label_key, "rows": report.rows,
                     "ignored_arrays": ignored,
                     "skipped": {"/".join(k): v for k, v in report.skipped.items()}})
        return EXIT_OK
    cols = ("nc1_trace", "nc1_pinv", "nc2_cond", "means_rank", "nc3_cos", "nc4_ncc",
            "w_rank", "w_balancedness")
    table = Table(title=f"{args.file}: N = {len(y)}", title_justify="left")
    table.add_column("layer")
    table.add_column("kind")
    for c in cols:
        table.add_column(c, justify="right")
    for row in report.rows:
        table.add_row(row["layer"], row.get("kind", ""),
                      *[_fmt(row[c]) if c in row else "" for c in cols])
    _console().print(table)
    if ignored:
        _console().print(f"ignored (not (N, D) features; use --weights for weight matrices): "
                         f"{', '.join(ignored)}")
    return EXIT_OK


# ---- analyze ---------------------------------------------------------------------------------
def _factory(spec: str):
    import importlib

    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise UsageError(f"--model must be 'package.module:factory', got {spec!r}")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise UsageError(f"--model {spec!r}: {err}") from None
    if not callable(fn):
        raise UsageError(f"--model {spec!r} is not callable")
    return fn


def cmd_analyze(args) -> int:
    import torch

    import nclab
    from nclab.data import load_dataset

    model = _factory(args.model)()
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"--model {args.model} returned a {type(model).__name__}, not an nn.Module")
    if args.weights:
        from safetensors.torch import load_file  # no pickle: safe for untrusted files

        try:
            model.load_state_dict(load_file(args.weights))
        except (OSError, RuntimeError, ValueError) as err:
            raise UsageError(f"--weights {args.weights}: {err}") from None
    try:
        ds = load_dataset(args.data, split=args.split, n_per_class=args.n_per_class)
        X = ds.X
        if args.shape:
            X = X.reshape(len(X), *args.shape)
        report = nclab.analyze(model, (X, ds.y), args.layers, pool=args.pool,
                               capture=args.capture, classifier=args.classifier,
                               batch_size=args.batch_size, one_pass=args.one_pass)
    except (ValueError, RuntimeError) as err:
        raise UsageError(str(err)) from None
    if args.json:
        _print_json({"model": args.model, "weights": args.weights, "data": args.data,
                     "split": args.split, "rows": report.rows, "info": report.info,
                     "skipped": {"/".join(k): v for k, v in report.skipped.items()}})
        return EXIT_OK
    cols = ("nc1_trace", "nc1_pinv", "nc2_etf_gram_dist", "means_rank", "nc3_cos", "nc4_ncc",
            "w_stable_rank", "w_balancedness")
    table = Table(title=f"{args.model} on {args.data}/{args.split}: N = {len(ds.y)}, classifier "
                  f"{report.info['classifier']}", title_justify="left")
    for c in ("layer", "kind", *cols):
        table.add_column(c, justify="left" if c in ("layer", "kind") else "right")
    for row in report.rows:
        table.add_row(row["layer"], row["kind"], *[_fmt(row[c]) if c in row else "" for c in cols])
    _console().print(table)
    for (layer, _kind, metric), why in report.skipped.items():
        _console().print(f"skipped {layer}/{metric}: {why}", markup=False)
    return EXIT_OK


# ---- theory ----------------------------------------------------------------------------------
def cmd_theory_srg(args) -> int:
    from nclab.theory import (
        dnc_optimum,
        layer_ranks,
        srg_optimum,
        srg_solution,
        theorem5_condition,
    )

    r, L, lam, n = args.r, args.layers, args.lam, args.n
    if r < 4 or L < 3:
        raise UsageError("the SRG construction needs --r >= 4 and --layers >= 3")
    K = r * (r - 1) // 2
    lam_H = args.lam_h if args.lam_h is not None else lam
    try:
        srg, dnc = srg_optimum(r, L, lam_H, lam, n=n), dnc_optimum(K, L, lam_H, lam, n=n)
        sol = srg_solution(r, L, n, (lam_H, lam))
    except ValueError as err:
        raise UsageError(str(err)) from None
    ranks = layer_ranks(sol["H1"], sol["Ws"], rtol=1e-8)
    out = {"r": r, "K": K, "L": L, "lambda": lam, "lambda_H1": lam_H, "n": n,
           "srg_loss": srg["loss"], "dnc_loss": dnc["loss"],
           "ratio": srg["loss"] / dnc["loss"], "theorem5_condition": theorem5_condition(r, L),
           "srg_trivial": srg["trivial"], "dnc_trivial": dnc["trivial"],
           "srg_ranks_post": ranks["post"], "srg_ranks_pre": ranks["pre"]}
    if args.json:
        _print_json(out)
        return EXIT_OK
    table = Table(title=f"SRG vs DNC: r = {r} (K = {K}), L = {L}, λ = {lam:g}, "
                        f"λ_H1 = {lam_H:g}, n = {n}", title_justify="left")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for k in ("srg_loss", "dnc_loss", "ratio", "theorem5_condition", "srg_ranks_pre",
              "srg_ranks_post"):
        table.add_row(k, _fmt(out[k]) if not isinstance(out[k], list) else str(out[k]))
    _console().print(table)
    return EXIT_OK


def cmd_theory_bound(args) -> int:
    from nclab.theory import nc1_bound

    try:
        value = nc1_bound(args.eps1, args.eps2, args.r, args.N, args.K, args.n_prev, args.sK_Y)
    except ValueError as err:
        raise UsageError(str(err)) from None
    out = {"nc1_bound": value, "eps1": args.eps1, "eps2": args.eps2, "r": args.r, "N": args.N,
           "K": args.K, "n_prev": args.n_prev, "sK_Y": args.sK_Y}
    if args.json:
        _print_json(out)
    else:
        _console().print(f"NC1(Z_L-1) <= {_fmt(value)}  (Jacot et al. Thm B.1 eq (18))")
    return EXIT_OK


# ---- demo ------------------------------------------------------------------------------------
def cmd_demo(args) -> int:
    from nclab.demo import run_demo

    return run_demo(root=_root(args), jobs=args.jobs, console=_console())


# ---- parser ----------------------------------------------------------------------------------
class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    from nclab.experiments.spec import SCALES
    from nclab.store import STATUSES

    parser = argparse.ArgumentParser(prog="nclab", description=__doc__,
                                     formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"nclab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, help_, fn, description=None):
        p = sub.add_parser(name, help=help_, description=description or help_,
                           formatter_class=_Formatter)
        p.set_defaults(fn=fn)
        return p

    def out_arg(p):
        p.add_argument("--out", metavar="DIR", help=f"store root (default ${RUNS_ENV} or ./runs)")

    p = add("list", "list the experiments (paper, figure, scales, estimated CPU time)", cmd_list)
    p.add_argument("--paper", help="only this paper (e.g. sukenik2024)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("run", "run an experiment's grid (progress bar; Ctrl-C stops, rerun resumes)",
            cmd_run, "Train (or compute) every run of EXP at a scale, store the records, "
            "evaluate the paper's claims and write the HTML report. Finished runs are skipped; "
            "unfinished ones resume from their last checkpoint.\n\nexample:\n  nclab run "
            "sukenik2024-fig2-top --scale cpu --seeds 2 --set optim.steps=20000")
    p.add_argument("experiment", metavar="EXP", help="experiment id (see `nclab list`)")
    p.add_argument("--scale", choices=SCALES, default="cpu", help="default: cpu")
    p.add_argument("--seeds", type=int, metavar="N", help="number of seeds (default: the scale's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="config override, repeatable (e.g. optim.lr=0.1, model.widths=[64,64])")
    out_arg(p)
    p.add_argument("--data-dir", metavar="DIR", help="directory with MNIST / CIFAR-10 files")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="work units trained at once in worker processes (default 1)")
    backend_args(p)
    p.add_argument("--overwrite", action="store_true", help="run finished runs again")
    p.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true",
                   help="print a JSON summary (run dirs, final metrics per layer, claims)")

    p = add("verify", "check the papers' claims: run (or reuse stored runs) and evaluate",
            cmd_verify, "Run every experiment (or EXP ...) at a scale -- finished runs in the "
            "store are reused -- evaluate each paper claim (PASS / FAIL / NOT-RUN with the "
            "reason), print a table with per-experiment training time and the total wall time, "
            "and write reproduction.html linking every claim to its figure. Exit code 0 only if every "
            "evaluated claim passes.\n\nexamples:\n  nclab verify --scale smoke\n  nclab "
            "verify sukenik2024-fig2-top jacot2025-fig4 --scale cpu --jobs 2\n  nclab verify "
            "--scale cpu --readme README.md   # regenerate the README's status table")
    p.add_argument("experiments", metavar="EXP", nargs="*",
                   help="experiment ids (default: all; a composite id checks its panels)")
    p.add_argument("--scale", choices=SCALES, default="cpu", help="default: cpu")
    out_arg(p)
    p.add_argument("--no-run", action="store_true",
                   help="only evaluate stored runs (missing ones make claims NOT-RUN)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="work units trained at once in worker processes (default 1)")
    backend_args(p)
    p.add_argument("--html", metavar="FILE", help="default: <store>/reproduction.html")
    p.add_argument("--readme", metavar="FILE",
                   help="rewrite the block between the reproduction-status markers of FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true",
                   help="print every verdict as JSON (the tables go to stderr)")

    p = add("report", "(re)build the figures and the HTML report of an experiment or a run",
            cmd_report)
    p.add_argument("target", metavar="RUN|EXP", help="experiment id, run id or run directory")
    p.add_argument("--scale", choices=SCALES, help="default: every scale with runs")
    out_arg(p)

    p = add("runs", "list or query the stored runs (DuckDB views `runs` and `metrics`)",
            cmd_runs, "List stored runs, or run SQL on the DuckDB views `runs` and `metrics`."
            "\n\nexamples:\n  nclab runs --exp sukenik2024-fig2-top\n  nclab runs --where "
            "\"status = 'failed'\"\n  nclab runs --sql \"SELECT layer, avg(value) FROM metrics "
            "WHERE metric = 'nc1_trace' GROUP BY layer\"")
    p.add_argument("--exp", metavar="EXP", help="only this experiment")
    p.add_argument("--scale", choices=SCALES)
    p.add_argument("--status", choices=STATUSES[1:],
                   help="finished, diverged, failed, interrupted (killed; a re-run resumes "
                   "it), running (its process is alive) or damaged (a file fails its checksum)")
    p.add_argument("--where", metavar="SQL", help="extra condition on the runs view")
    p.add_argument("--sql", metavar="QUERY", help="any SQL query on the views")
    out_arg(p)
    p.add_argument("--json", action="store_true")

    p = add("measure", "NC metrics of saved features / weights (.npz or .safetensors)",
            cmd_measure, "Every metric of nclab.metrics.layer_report for the 2-D arrays of a "
            "file: features (N, D) per layer, integer (or one-hot) labels, optional weight "
            "matrices. npz files are read with allow_pickle=False.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--labels", metavar="KEY", help="labels array (default: y, labels, targets)")
    p.add_argument("--weights", action="append", metavar="KEY",
                   help="weight matrix key (repeatable; 'W*' matches a prefix)")
    p.add_argument("--classifier-input", metavar="KEY",
                   help="features the last weight (the classifier) reads: NC3/NC4 there")
    p.add_argument("--json", action="store_true")

    p = add("analyze", "NC metrics of any network's layers on a dataset",
            cmd_analyze, "nclab.analyze on a model built by FACTORY (a function in an importable "
            "module), with weights from a safetensors file, over a dataset by name; one row per "
            "layer (see README, Measure your own network).")
    p.add_argument("--model", required=True, metavar="PKG.MODULE:FACTORY")
    p.add_argument("--weights", metavar="FILE.safetensors", help="state dict (default: as built)")
    p.add_argument("--data", required=True, metavar="NAME", help="fashion-mnist, mnist, cifar10, ...")
    p.add_argument("--split", default="test")
    p.add_argument("--n-per-class", type=int, default=None, metavar="N")
    p.add_argument("--shape", type=int, nargs="+", metavar="DIM",
                   help="reshape each sample, e.g. --shape 1 28 28 for a CNN")
    p.add_argument("--layers", nargs="+", required=True, metavar="NAME")
    p.add_argument("--pool", choices=("avg", "flatten", "tokens"), default=None)
    p.add_argument("--capture", choices=("output", "input"), default="output")
    p.add_argument("--classifier", default=None, metavar="NAME", help="default: last nn.Linear")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--one-pass", action="store_true")
    p.add_argument("--json", action="store_true")

    p = add("theory", "closed forms of the papers", lambda a: (a.theory_parser.print_help(),
                                                                EXIT_USAGE)[1])
    tsub = p.add_subparsers(dest="theory_command", metavar="WHAT")
    p.set_defaults(theory_parser=p)
    t = tsub.add_parser("srg", help="SRG vs DNC losses of the L-DUFM (Súkeník et al. Thm 5)",
                        description="Optimal SRG and DNC losses, their ratio and Theorem 5's "
                                    "condition for K = C(r, 2) classes.")
    t.add_argument("--r", type=int, required=True, help="vertices of K_r (K = r(r-1)/2)")
    t.add_argument("--layers", type=int, required=True, help="L, the DUFM depth")
    t.add_argument("--lambda", dest="lam", type=float, required=True, help="λ of every W_l")
    t.add_argument("--lambda-h1", dest="lam_h", type=float, help="λ_H1 (default: --lambda)")
    t.add_argument("--n", type=int, default=1, help="samples per class (default 1)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(fn=cmd_theory_srg)
    t = tsub.add_parser("bound", help="NC1 bound of Jacot et al. Thm B.1 eq (18)",
                        description="Upper bound on NC1(Z_L-1) from ε1, ε2, r, N, K, "
                                    "n_{L-1} and s_K(Y).")
    for name, tp, hlp in (("--eps1", float, "interpolation error ||Z_L - Y||_F"),
                          ("--eps2", float, "max imbalance of the linear layers"),
                          ("--r", float, "bound on the operator norms"),
                          ("--N", int, "number of samples"), ("--K", int, "number of classes"),
                          ("--n-prev", int, "width n_{L-1}"),
                          ("--sK-Y", float, "s_K(Y) = sqrt(min class size)")):
        t.add_argument(name, type=tp, required=True, help=hlp,
                       dest=name[2:].replace("-", "_"))
    t.add_argument("--json", action="store_true")
    t.set_defaults(fn=cmd_theory_bound)

    p = add("demo", "train the demo experiments at cpu scale, print a table, write reports",
            cmd_demo, "Runs sukenik2024-fig2-top (4-DUFM, K = 10), sukenik2024-fig3-left, "
            "jacot2025-fig4 and papyan2020-fmnist at the cpu scale (a few minutes on 2 cores), "
            "prints the losses against L_DNC / L_SRG, ranks and NC metrics per layer, NC1-NC4 "
            "through the terminal phase, and writes the reports.")
    out_arg(p)
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="runs at once (default: min(2, CPU count))")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if getattr(args, "fn", None) is None:
        parser.print_help()
        return EXIT_OK
    try:
        return int(args.fn(args) or 0)
    except UsageError as err:
        Console(stderr=True, highlight=False).print(f"nclab {args.command}: error: {err}",
                                                    markup=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
