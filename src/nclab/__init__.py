"""nclab: neural collapse and low-rank bias in deep networks trained with weight decay.

Subpackages (imports go one way, bottom to top):

- :mod:`nclab.metrics` -- pure metric functions on tensors and streaming accumulators (a leaf).
- :mod:`nclab.theory` -- bounds and optimal constructions (uses only :mod:`nclab.metrics`).
- :mod:`nclab.data`, :mod:`nclab.models` -- datasets and networks.
- :mod:`nclab.train` -- losses, optimisers, probes, checkpoints.
- :mod:`nclab.analysis` -- :func:`nclab.analyze`: every metric, layer by layer, for any
  ``torch.nn.Module`` (uses :mod:`nclab.metrics`); :mod:`nclab.integrations` on top of it.

``import nclab`` imports nothing heavy: ``nclab.analyze`` is loaded on first use.
"""

__version__ = "0.1.0"
__all__ = ["analyze"]


def __getattr__(name):
    if name == "analyze":
        from .analysis import analyze

        return analyze
    raise AttributeError(f"module 'nclab' has no attribute {name!r}")
