"""make_figures: one PNG + SVG per panel, grids for per-layer kinds, placeholders for no data."""

import struct
import xml.etree.ElementTree as ET

import pytest
from report_synthetic import LAYERS, PANELS, WDS, synthetic_experiment, synthetic_rows

from nclab.experiments.spec import Panel, Results
from nclab.report import make_figures, render_panels
from nclab.report.figures import PNG_DPI, slug

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """All panels drawn once (rendering is the slow part of these tests)."""
    out = tmp_path_factory.mktemp("figures") / "fig"
    return out, make_figures(synthetic_experiment(), Results("synth", "cpu", synthetic_rows()),
                             out)


def test_every_kind_writes_png_and_svg(made):
    out, paths = made
    assert len(paths) == 2 * len(PANELS)
    kinds = {p.kind for p in PANELS}
    assert kinds == {"curve", "vs_param", "spectrum", "gram", "projection", "histogram", "bar"}
    for i, panel in enumerate(PANELS):
        png, svg = paths[2 * i], paths[2 * i + 1]
        assert png.name == f"{i + 1:02d}-{slug(panel.title)}.png"
        assert svg == png.with_suffix(".svg")
        width, height = png_size(png)
        assert width > 100 and height > 100
        assert ET.parse(svg).getroot().tag.endswith("svg")
    assert sorted(out.iterdir()) == sorted(paths)  # no temporary files left behind


def test_per_layer_kinds_get_a_grid(made):
    _, paths = made
    gram_png = paths[2 * [p.kind for p in PANELS].index("gram")]
    # one column per layer, one row per grid point (3.6 x 3.3 inches per cell + title)
    assert png_size(gram_png) == (int(3.6 * len(LAYERS) * PNG_DPI),
                                  int((3.3 * len(WDS) + 0.4) * PNG_DPI))
    curve_png = paths[0]
    assert png_size(curve_png) == (int(6.0 * PNG_DPI), int(4.2 * PNG_DPI))


def test_missing_metric_becomes_a_placeholder(results, tmp_path):
    exp = synthetic_experiment(panels=(Panel("Absent", "curve", "nc9"),
                                       Panel("Absent gram", "gram", "H")))
    drawn = render_panels(exp, results, tmp_path)
    assert [bool(f.missing) for f in drawn] == [True, True]
    assert "no rows of metric 'nc9'" in drawn[0].missing
    assert drawn[0].png.is_file() and drawn[1].svg.is_file()


def test_svg_is_reproducible(results, tmp_path):
    exp = synthetic_experiment(panels=tuple(p for p in PANELS if p.kind in ("bar", "vs_param")))
    one = make_figures(exp, results, tmp_path / "a")
    two = make_figures(exp, results, tmp_path / "b")
    assert len(one) == 4
    for a, b in zip(one, two, strict=True):
        if a.suffix == ".svg":
            assert a.read_bytes() == b.read_bytes(), a.name


def test_slug():
    assert slug("NC1 vs step (train)") == "nc1-vs-step-train"
    assert slug("***") == "panel"
