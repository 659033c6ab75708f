"""Súkeník, Mondelli, Lampert -- Neural collapse versus low-rank bias: is deep neural collapse
really optimal? (seed 002; experiments.md C.3, B.3).

Layer names (probe) vs the paper's: ``H1`` = H_1, ``layer{l-1}/pre`` = H̃_l, ``layer{l-1}/post`` =
H_l (l = 2..L), ``layerL`` = the output. Class-mean matrices M_l / M̃_l are the class means of
those layers; "intermediate" layers are H_1 .. H̃_L (rank r in the SRG solution), H_L is the
last hidden layer after the final ReLU (rank K).

Figures by module: :mod:`.fig1` (the SRG construction), :mod:`.fig2` (4-DUFM and DUFM-like
training), :mod:`.fig3` (SRG/DNC ratio, rank vs λ, DNC vs width), :mod:`.fig4` (standard
regularisation), :mod:`.fig5_8` (DUFM solutions, App. B.1), :mod:`.fig9_10` (average rank vs
hyper-parameters, App. B.2); :mod:`.shared` holds the paper's constants and the end-to-end set-up.
"""

from .fig1 import FIG1
from .fig2 import FIG2
from .fig3 import FIG3
from .fig4 import FIG4
from .fig5_8 import FIG5, FIG6, FIG7, FIG8
from .fig9_10 import FIG9, FIG10

EXPERIMENTS = (FIG1, FIG2, FIG3, FIG4, FIG5, FIG6, FIG7, FIG8, FIG9, FIG10)

__all__ = ["EXPERIMENTS", "FIG1", "FIG2", "FIG3", "FIG4", "FIG5", "FIG6", "FIG7", "FIG8", "FIG9",
           "FIG10"]
