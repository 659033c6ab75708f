"""Fixtures of the report tests and the ``browser`` marker."""

import pytest
from report_synthetic import synthetic_experiment, synthetic_rows

from nclab.experiments.spec import Results


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: opens the HTML report in headless Chromium (skipped without it)"
    )


@pytest.fixture
def results():
    return Results("synth", "cpu", synthetic_rows())


@pytest.fixture
def experiment():
    return synthetic_experiment()


@pytest.fixture
def figure():
    from matplotlib.figure import Figure

    return Figure(figsize=(5, 4))


@pytest.fixture(scope="session")
def report_path(tmp_path_factory):
    """The synthetic experiment's report, written once (figures referenced relatively)."""
    from nclab.report import write_html_report

    out = tmp_path_factory.mktemp("report")
    return write_html_report(synthetic_experiment(), Results("synth", "cpu", synthetic_rows()),
                             out)
