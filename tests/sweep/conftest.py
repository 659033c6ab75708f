"""Shared fixture: compare a vectorised replica with the sequential ``nclab.train.run``."""

import math

import numpy as np
import pytest
import torch

# Metrics that are condition numbers of (nearly) rank-deficient matrices or cosines near 0
# measure rounding noise (values ~1/eps or ~eps) and are excluded from the record comparison.
ILL_CONDITIONED = ("nc2_cond", "nc2_cond_K", "nc2_cos_mean")


def compare(vec, seq, *, params_rtol=1e-12, trace_rtol=1e-12, records_rtol=1e-8):
    """Assert that the RunResult ``vec`` of a replica equals ``seq`` of ``nclab.train.run``."""
    assert (vec.steps, vec.total_steps, vec.diverged) == (seq.steps, seq.total_steps, seq.diverged)
    assert vec.divergence == seq.divergence
    assert vec.loss_preset == seq.loss_preset and vec.config == seq.config
    with torch.no_grad():
        for (name, p), q in zip(seq.model.named_parameters(), vec.model.parameters(), strict=True):
            scale = float(p.abs().max())
            assert float((p - q).abs().max()) <= params_rtol * scale, name
    assert vec.loss_trace.shape == seq.loss_trace.shape
    finite = np.isfinite(seq.loss_trace)
    assert np.array_equal(finite, np.isfinite(vec.loss_trace))
    np.testing.assert_allclose(vec.loss_trace[finite], seq.loss_trace[finite], rtol=trace_rtol)
    assert len(vec.records) == len(seq.records)
    compared = 0
    for a, b in zip(seq.records, vec.records, strict=True):
        assert {k: a[k] for k in a if k != "value"} == {k: b[k] for k in b if k != "value"}
        if a["metric"] in ILL_CONDITIONED or not math.isfinite(a["value"]):
            continue
        assert b["value"] == pytest.approx(a["value"], rel=records_rtol, abs=1e-12), a
        compared += 1
    assert compared >= 0.7 * len(seq.records)  # the comparison is not vacuous
    assert vec.skipped == seq.skipped
    assert vec.loss_parts.keys() == seq.loss_parts.keys()
    for k, v in seq.loss_parts.items():
        if math.isfinite(v):
            assert vec.loss_parts[k] == pytest.approx(v, rel=trace_rtol, abs=1e-300), k
    assert vec.final_metrics.keys() == seq.final_metrics.keys()


@pytest.fixture
def assert_matches():
    return compare
