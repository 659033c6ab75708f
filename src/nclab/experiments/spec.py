"""Declarative experiment definitions: what a paper figure trains, shows and claims.

An :class:`Experiment` is data: a base training config (``nclab.train.TrainConfig``) or a
theory-only computation, named scales (``smoke`` / ``cpu`` / ``paper``) that override it and set
the grid of seeds x hyper-parameters, the figure's panels, and the paper's claims as predicates.

Results flow as one long table (the store's schema, :data:`nclab.store.RECORD_COLUMNS`)::

    experiment, scale, run_id, seed, params (JSON of the grid point), step, layer, metric, value

Panels name metrics and layers of that table; claims are functions of a
:class:`nclab.store.Results` view of it, evaluated by :mod:`nclab.experiments.claims`. Nothing
here trains or plots: ``nclab.running`` runs, ``nclab.report`` draws.

Beyond the probe's per-layer metrics, an experiment lists :class:`Measure` s (spectra, Gram
matrices, projections, margins, theory references computed by the runner from the model at
chosen fractions of the run), ``derive`` (overrides computed from a grid point, for grid keys
that are not config keys, e.g. the depth of the linear head) and ``parts`` (a figure whose rows
or panels are separate experiments, e.g. a DUFM row and a ResNet row).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nclab.store import SCALES, Results, run_id

CLAIM_STATUSES = ("PASS", "FAIL", "NOT-RUN", "ERROR")
PANEL_KINDS = ("curve", "vs_param", "spectrum", "gram", "projection", "histogram", "bar")
AGGREGATES = ("mean_std", "min_max", "none")


@dataclass(frozen=True)
class Panel:
    """One panel of a paper figure, drawn from the long records.

    kind: ``"curve"`` (metric vs step, one line per layer, band over runs), ``"vs_param"``
    (final metric vs the grid key ``x``, one line per layer), ``"spectrum"`` (singular values at
    the last step: metrics ``f"{metric}[i]"`` indexed by i), ``"gram"`` (a K x K matrix stored as
    metrics ``f"{metric}[i,j]"``), ``"projection"`` (2-D points ``f"{metric}[i,0|1]"`` with the
    class in ``f"{metric}_class[i]"``), ``"histogram"`` (values ``f"{metric}[i]"``), ``"bar"``.
    reference: horizontal lines ``(label, value)`` (e.g. the SRG and DNC losses from theory).
    """

    title: str
    kind: str
    metric: str
    layers: tuple[str, ...] | None = None
    x: str = "step"
    logx: bool = False
    logy: bool = False
    aggregate: str = "mean_std"
    reference: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        if self.kind not in PANEL_KINDS:
            raise ValueError(f"Panel {self.title!r}: kind must be one of {PANEL_KINDS}, got {self.kind!r}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(
                f"Panel {self.title!r}: aggregate must be one of {AGGREGATES}, got {self.aggregate!r}"
            )


@dataclass(frozen=True)
class ClaimOutcome:
    """A claim's verdict; ``status`` one of :data:`CLAIM_STATUSES`: ``"PASS"`` / ``"FAIL"``
    (the check's verdict, ``measured`` against ``threshold``), ``"NOT-RUN"`` (not scored:
    ``reason`` says why -- no runs, a scale that cannot show it, a diverged run, a
    precondition not met) or ``"ERROR"`` (the check or a precondition raised; ``reason``
    holds the exception). See :mod:`nclab.experiments.claims`."""

    status: str
    measured: str = ""
    threshold: str = ""
    reason: str = ""

    def __post_init__(self):
        if self.status not in CLAIM_STATUSES:
            raise ValueError(f"ClaimOutcome status must be one of {CLAIM_STATUSES}, "
                             f"got {self.status!r}")


class Missing(LookupError):
    """The results lack what a check needs (becomes NOT-RUN)."""


@dataclass(frozen=True)
class Requirement:
    """A precondition of a claim: the regime the paper's claim is about (a non-trivial solution,
    every class learned, interpolation reached...), as a predicate over the runs.

    ``check(results) -> (ok, measured)``; raising :class:`Missing` also means "not met". A claim
    whose requirement is not met is NOT-RUN with ``measured`` and the requirement's ``text`` as
    the reason -- it is never scored (see :func:`nclab.experiments.claims.evaluate_claim`)."""

    text: str
    check: Callable[[Results], tuple[bool, str]]


@dataclass(frozen=True)
class Claim:
    """A paper's claim as a predicate on the results; ``scales``: where it is meaningful;
    ``requires``: the preconditions the runs must meet for the claim to be scored. Evaluate it
    with :func:`nclab.experiments.claims.evaluate_claim`."""

    text: str
    check: Callable[[Results], ClaimOutcome]
    scales: tuple[str, ...] = ("cpu", "paper")
    source: str = ""  # e.g. "002 §5, Fig 2"
    why: str = ""  # why the other scales cannot show it (given with NOT-RUN)
    requires: tuple[Requirement, ...] = ()


@dataclass(frozen=True)
class Scale:
    """overrides: ``"a.b=value"`` strings applied to the base config; grid: key -> values (the
    cartesian product, times ``seeds``, gives the runs)."""

    overrides: tuple[str, ...] = ()
    seeds: int = 1
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    # CPU minutes of all the scale's runs on one core (probes included), measured by timing a
    # few steps of each work unit; orders the worker pool (most expensive first) and `nclab list`
    est_cpu_minutes: float | None = None
    note: str = ""

    def run_ids(self, seeds: int | None = None) -> list[str]:
        """The ids of the runs this scale plans, in the runner's order (each grid point, then
        each seed; ``seeds``: default the scale's): run ids depend only on the grid point and
        the seed (:func:`nclab.store.run_id`)."""
        n = self.seeds if seeds is None else seeds
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"seeds must be an int >= 1, got {n!r}")
        return [run_id(p, s) for p in grid_points(self.grid) for s in range(n)]


def grid_points(grid) -> list[dict]:
    """The cartesian product of ``grid`` (key -> values) as dicts, in the grid's key order."""
    if not grid:
        return [{}]
    keys = list(grid)
    return [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(list(grid[k]) for k in keys))]


@dataclass(frozen=True)
class Measure:
    """A quantity the runner computes from the model at fractions ``at`` of a run's steps
    (``1.0`` = the end; e.g. singular values of the class means, Gram matrices, 2-D projections,
    per-sample margins, theory reference losses for the run's own hyper-parameters).

    ``fn(ctx)`` returns long rows ``{"layer", "metric", "value"}`` (the runner adds the step);
    ``ctx`` is a :class:`nclab.experiments.measures.Context` (model, config, data, step, grid
    point). ``tag_step``: append ``@<step>`` to the layer names, so that snapshots taken at
    several steps are drawn side by side by panels that show each run's last step.
    """

    name: str
    fn: Callable[[Any], Any]
    at: tuple[float, ...] = (1.0,)
    tag_step: bool = False

    def __post_init__(self):
        if not self.at or any(not 0.0 <= a <= 1.0 for a in self.at):
            raise ValueError(f"Measure {self.name!r}: at must be fractions in [0, 1], got {self.at}")


@dataclass(frozen=True)
class Experiment:
    id: str
    paper: str
    figure: str
    title: str
    base: Any  # nclab.train.TrainConfig, or None when ``compute`` makes the records
    scales: Mapping[str, Scale]
    panels: tuple[Panel, ...] = ()
    claims: tuple[Claim, ...] = ()
    compute: Callable[..., list[dict]] | None = None  # theory-only: returns long rows
    trains: bool = False  # ``compute`` trains a network in its own loop (kind "train")
    description: str = ""
    skipped: str = ""  # non-empty: no numerical content; the reason shown by `nclab list`
    # (grid point, config with the scale's overrides) -> extra "a.b=value" overrides, for grid
    # keys that are not config keys (e.g. the depth of the linear head)
    derive: Callable[[Mapping[str, Any], Any], Sequence[str]] | None = None
    measures: tuple[Measure, ...] = ()
    parts: tuple[Experiment, ...] = ()  # a figure made of separately run experiments
    # config -> {probe layer name: the paper's name}, applied to every record and seen by the
    # measures, so that panels and claims use one set of names at every scale (e.g. "H~2" for
    # the first head layer's pre-activation of a DUFM, a ResNet head and an MLP head alike)
    layer_names: Callable[[Any], Mapping[str, str]] | None = None
    source: str = ""  # where the setting is described, e.g. "002 §5, Fig 2; experiments.md C.3"
    # preconditions of every claim (added in front of each claim's own ``requires``)
    requires: tuple[Requirement, ...] = ()

    def __post_init__(self):
        if self.requires:
            object.__setattr__(self, "claims", tuple(
                dataclasses.replace(c, requires=(*[r for r in self.requires
                                                   if r not in c.requires], *c.requires))
                for c in self.claims))
        unknown = set(self.scales) - set(SCALES)
        if unknown:
            raise ValueError(f"experiment {self.id}: unknown scales {sorted(unknown)}; use {SCALES}")
        kinds = [bool(self.base is not None), self.compute is not None, bool(self.parts),
                 bool(self.skipped)]
        if sum(kinds) > 1:
            raise ValueError(
                f"experiment {self.id}: give one of base (training), compute (theory), "
                "parts (a composite figure) or skipped (no numerical content)"
            )
        if self.trains and self.compute is None:
            raise ValueError(f"experiment {self.id}: trains=True describes a compute function")
        if self.parts and (self.panels or self.claims or self.measures):
            raise ValueError(f"experiment {self.id}: a composite keeps panels/claims in its parts")

    @property
    def kind(self) -> str:
        """``"train"``, ``"theory"``, ``"composite"``, ``"skipped"`` or ``"records"`` (nothing to
        run here: the records come from elsewhere)."""
        if self.skipped:
            return "skipped"
        if self.parts:
            return "composite"
        if self.compute is not None:
            return "train" if self.trains else "theory"
        return "train" if self.base is not None else "records"

    def leaves(self) -> tuple[Experiment, ...]:
        """The experiments that run: the parts of a composite, else the experiment itself
        (none when skipped)."""
        if self.skipped:
            return ()
        return tuple(leaf for part in self.parts for leaf in part.leaves()) or (self,)
