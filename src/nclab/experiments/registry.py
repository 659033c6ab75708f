"""Every experiment by id: :func:`get`, :func:`all_experiments`, :func:`ids`.

Ids are ``<paper>-fig<N>`` (one per figure of the papers) and, for figures whose rows or panels
are separate experiments, ``<paper>-fig<N>-<part>`` (e.g. ``sukenik2024-fig3-left``); running a
figure id runs all its parts.
"""

from __future__ import annotations

import difflib
from functools import cache

from .spec import Experiment

PAPERS = ("jacot2025", "zangrando2024", "sukenik2024", "xu2023", "papyan2020")


class UnknownExperiment(KeyError):
    """An id that names no experiment (the message lists close matches)."""

    def __str__(self) -> str:
        return str(self.args[0])


@cache
def _registry() -> dict[str, Experiment]:
    from . import jacot2025, papyan2020, sukenik2024, xu2023, zangrando2024

    out: dict[str, Experiment] = {}
    for module in (jacot2025, zangrando2024, sukenik2024, xu2023, papyan2020):
        for exp in module.EXPERIMENTS:
            for e in (exp, *_descendants(exp)):
                if e.id in out:
                    raise ValueError(f"duplicate experiment id {e.id}")
                out[e.id] = e
    return out


def _descendants(exp: Experiment):
    for part in exp.parts:
        yield part
        yield from _descendants(part)


def all_experiments() -> list[Experiment]:
    """The figures of every paper in order (composites hold their parts; skipped figures
    included)."""
    parts = {p.id for e in _registry().values() for p in e.parts}
    return [e for e in _registry().values() if e.id not in parts]


def ids(include_parts: bool = True) -> list[str]:
    """Every experiment id (figures, then their parts when ``include_parts``)."""
    if include_parts:
        return list(_registry())
    return [e.id for e in all_experiments()]


def get(experiment_id: str) -> Experiment:
    """The experiment (figure or part) named ``experiment_id``; :class:`UnknownExperiment`
    (a ``KeyError``) with suggestions otherwise."""
    reg = _registry()
    if experiment_id in reg:
        return reg[experiment_id]
    close = difflib.get_close_matches(experiment_id, list(reg), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownExperiment(
        f"unknown experiment {experiment_id!r}{hint} (`nclab list` shows all {len(reg)} ids)"
    )


def is_registered(experiment: Experiment) -> bool:
    """Whether ``experiment`` is the registered one of its id (so that another process can get
    it again by id)."""
    return _registry().get(experiment.id) is experiment


def leaves() -> list[Experiment]:
    """Every runnable experiment (the parts of composites, not the composites; no skipped)."""
    return [leaf for e in all_experiments() for leaf in e.leaves()]
