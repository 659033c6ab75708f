"""The papers' figures as data: experiment definitions, their claims and their registry.

- :mod:`.spec` -- :class:`Experiment`, :class:`Scale`, :class:`Panel`, :class:`Claim`,
  :class:`ClaimOutcome`, :class:`Measure`. The records they describe are the store's
  (:class:`nclab.store.Results`, ``RECORD_COLUMNS``, ``SCALES``; re-exported here).
- :mod:`.claims` -- :func:`evaluate` every claim (PASS / FAIL / NOT-RUN / ERROR) on the runs
  of the current plan (:func:`planned_results`).
- :mod:`.registry` -- :func:`get` an experiment by id (``sukenik2024-fig2-top``), :func:`ids`,
  :func:`all_experiments`; one package (one module per figure group) or module per paper:
  :mod:`.jacot2025`, :mod:`.zangrando2024`, :mod:`.sukenik2024`, :mod:`.xu2023`,
  :mod:`.papyan2020` (measured through :func:`nclab.analyze`).
- :mod:`.measures`, :mod:`.checks`, :mod:`.common` -- shared measures (spectra, Gram
  matrices, theory references...), claim predicates and config / panel helpers.

Running them is :mod:`nclab.running`'s job (a store from :mod:`nclab.store`)::

    from nclab.experiments import get
    from nclab.running import run_experiment
    from nclab.store import Store

    exp = get("sukenik2024-fig2-top")
    outcome = run_experiment(exp, Store("runs"), "smoke")

``jobs > 1`` starts worker processes with the ``spawn`` method: call it from a script under
``if __name__ == "__main__":``.
"""

from importlib import import_module

from nclab.store import RECORD_COLUMNS, SCALES, Results

from .claims import evaluate, planned_results
from .spec import Claim, ClaimOutcome, Experiment, Measure, Panel, Scale

# the registry imports torch: load it on first use, so that ``nclab.report``
# (which imports .spec and .claims) stays light
_LAZY = {
    "all_experiments": "registry", "get": "registry", "ids": "registry", "leaves": "registry",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "RECORD_COLUMNS",
    "SCALES",
    "Claim",
    "ClaimOutcome",
    "Experiment",
    "Measure",
    "Panel",
    "Results",
    "Scale",
    "all_experiments",
    "evaluate",
    "get",
    "ids",
    "leaves",
    "planned_results",
]
