"""nclab: neural collapse and low-rank bias in deep networks trained with weight decay.

Subpackages (imports go one way, bottom to top):

- :mod:`nclab.metrics` -- pure metric functions on tensors and streaming accumulators (a leaf).
- :mod:`nclab.theory` -- bounds and optimal constructions (uses only :mod:`nclab.metrics`).
- :mod:`nclab.data`, :mod:`nclab.models` -- datasets and networks.
- :mod:`nclab.train` -- losses, optimisers, probes, checkpoints.
"""

__version__ = "0.1.0"
