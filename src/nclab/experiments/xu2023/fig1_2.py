"""Xu et al. Figs 1 and 2: drawings with no numbers to reproduce (listed, skipped)."""

from __future__ import annotations

from nclab.experiments.spec import Experiment

from .shared import PAPER, SRC

FIG1 = Experiment(
    id=f"{PAPER}-fig1", paper=PAPER, figure="Fig 1", title="two parametrisations of f_W",
    base=None, scales={}, skipped="an architecture sketch (weight normalisation of each layer "
    "vs a global ρ): no numbers to reproduce", source=f"{SRC} Fig 1",
)
FIG2 = Experiment(
    id=f"{PAPER}-fig2", paper=PAPER, figure="Fig 2", title="landscape of the unregularised loss",
    base=None, scales={}, skipped="a speculative drawing of the loss landscape: no numbers to "
    "reproduce", source=f"{SRC} Fig 2",
)
