"""The HTML report renders in a real browser (headless Chromium) and every figure loads."""

import html
import json
import re
import shutil
import subprocess

import pytest

CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install -y chromium)"
    ),
]

# Appended to a copy of the report (next to it, so relative image paths resolve): once the page
# has loaded, write every image's natural size into the DOM, which --dump-dom then prints.
# A deliberately broken image is the control: it must come back with width 0.
PROBE = """<img id="control" src="figures/does-not-exist.png" alt="control">
<script>
window.addEventListener("load", () => {
  const out = Array.from(document.images).map(
    i => ({src: i.getAttribute("src").slice(0, 60), width: i.naturalWidth, done: i.complete}));
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def chromium(url, user_dir, *args):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={user_dir}", "--virtual-time-budget=10000",
           *args, url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def probe(report, tmp_path):
    page = report.parent / "probe.html"
    page.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(page.as_uri(), tmp_path / "chromium", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe script did not run: " + dom[-500:]
    return json.loads(html.unescape(found.group(1)))


def test_report_figures_load_in_chromium(report_path, tmp_path):
    from report_synthetic import PANELS

    images = probe(report_path, tmp_path)
    *figures, control = images
    assert control["src"] == "figures/does-not-exist.png" and control["width"] == 0
    assert len(figures) == len(PANELS)
    for img in figures:
        assert img["done"] and img["width"] > 100, img


def test_inline_report_loads_in_chromium(tmp_path):
    from report_synthetic import PANELS, synthetic_experiment, synthetic_rows

    from nclab.experiments.spec import Results
    from nclab.report import write_html_report

    exp = synthetic_experiment(panels=PANELS[-1:])
    report = write_html_report(exp, Results("synth", "cpu", synthetic_rows()),
                               tmp_path / "out", inline=True)
    shutil.rmtree(report.parent / "figures")  # self-contained: nothing else is needed
    (fig, control) = probe(report, tmp_path)
    assert fig["src"].startswith("data:image/png;base64,") and fig["width"] > 100
    assert control["width"] == 0


def test_screenshot_is_not_blank(report_path, tmp_path):
    shot = tmp_path / "shot.png"
    chromium(report_path.as_uri(), tmp_path / "chromium", f"--screenshot={shot}",
             "--window-size=1280,1600", "--hide-scrollbars")
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (1600, 1280)
    assert pixels[..., :3].std() > 0.05  # text, tables and figures, not an empty page
