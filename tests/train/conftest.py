"""Shared fixture: a run trained in a group is bit-identical to the same run trained alone."""

import math

import numpy as np
import pytest
import torch


def same_value(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float)
                      and math.isnan(a) and math.isnan(b))


def compare(got, alone):
    """Assert that the RunResult ``got`` equals ``alone`` bit for bit: parameters and buffers,
    loss trace, every probe record, loss decomposition, divergence."""
    assert (got.steps, got.total_steps, got.diverged) == (alone.steps, alone.total_steps,
                                                          alone.diverged)
    assert got.divergence == alone.divergence
    assert got.loss_preset == alone.loss_preset and got.config == alone.config
    a, b = alone.model.state_dict(), got.model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert np.array_equal(got.loss_trace, alone.loss_trace, equal_nan=True)
    assert len(got.records) == len(alone.records)
    for x, y in zip(alone.records, got.records, strict=True):
        assert {k: x[k] for k in x if k != "value"} == {k: y[k] for k in y if k != "value"}
        assert same_value(x["value"], y["value"]), x
    assert got.skipped == alone.skipped
    assert got.loss_parts.keys() == alone.loss_parts.keys()
    for k, v in alone.loss_parts.items():
        assert same_value(got.loss_parts[k], v), k
    assert got.final_metrics.keys() == alone.final_metrics.keys()


def compare_close(got, alone, rtol=1e-12, records_rtol=1e-8):
    """For ``compile=True`` (fused kernels: another operation order): float64 agreement."""
    assert (got.steps, got.diverged, got.divergence) == (alone.steps, alone.diverged,
                                                          alone.divergence)
    for (name, p), q in zip(alone.model.named_parameters(), got.model.parameters(), strict=True):
        assert float((p - q).detach().abs().max()) <= rtol * float(p.detach().abs().max()), name
    finite = np.isfinite(alone.loss_trace)
    assert np.array_equal(finite, np.isfinite(got.loss_trace))
    np.testing.assert_allclose(got.loss_trace[finite], alone.loss_trace[finite], rtol=rtol)
    for x, y in zip(alone.records, got.records, strict=True):
        if x["metric"] not in ("nc2_cond", "nc2_cond_K", "nc2_cos_mean") and \
                math.isfinite(x["value"]):
            assert y["value"] == pytest.approx(x["value"], rel=records_rtol, abs=1e-12), x


@pytest.fixture
def assert_matches():
    return compare


@pytest.fixture
def assert_close():
    return compare_close
