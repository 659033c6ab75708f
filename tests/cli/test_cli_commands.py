"""The nclab command through its entry point (``nclab.cli.main``) and the console script."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nclab.cli import main

NCLAB = Path(sys.executable).with_name("nclab")


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("argv", [
    ["--help"], ["list", "--help"], ["run", "--help"], ["verify", "--help"],
    ["report", "--help"], ["runs", "--help"], ["measure", "--help"], ["analyze", "--help"],
    ["theory", "--help"],
    ["theory", "srg", "--help"], ["theory", "bound", "--help"], ["demo", "--help"],
])
def test_help_everywhere(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "usage: nclab" in out


def test_version_and_no_command(capsys):
    assert run(capsys, "--version")[0] == 0
    code, out, _ = run(capsys)
    assert code == 0 and "COMMAND" in out


def test_help_lists_the_commands_in_order(capsys):
    _, out, _ = run(capsys, "--help")
    listed = [line.split()[0] for line in out.split("  COMMAND\n", 1)[1].splitlines()
              if line.startswith("    ") and not line.startswith("      ")]
    assert listed == ["list", "run", "verify", "report", "runs", "measure", "analyze", "theory",
                      "demo"]


def test_bad_ids_and_bad_set_keys_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "run", "sukenik2024-fig22", "--out", str(tmp_path))
    assert code == 2 and "unknown experiment 'sukenik2024-fig22'" in err
    assert "did you mean" in err
    code, _, err = run(capsys, "run", "sukenik2024-fig2-top", "--scale", "smoke",
                       "--set", "optim.lrr=0.1", "--out", str(tmp_path))
    assert code == 2 and "unknown config key 'optim.lrr'" in err and "'lr'" in err
    code, _, err = run(capsys, "run", "sukenik2024-fig2-top", "--set", "optim.lr=-1",
                       "--out", str(tmp_path))
    assert code == 2 and "optim.lr" in err
    code, _, err = run(capsys, "run", "sukenik2024-fig2-top", "--set", "nonsense",
                       "--out", str(tmp_path))
    assert code == 2 and "section.field=value" in err
    code, _, err = run(capsys, "run", "xu2023-fig1", "--out", str(tmp_path))
    assert code == 2 and "no numbers" in err
    code, _, err = run(capsys, "run", "sukenik2024-fig2-top", "--scale", "huge")
    assert code == 2 and "invalid choice" in err
    assert not any(tmp_path.iterdir())


def test_backend_options_are_checked(capsys, tmp_path):
    base = ["run", "sukenik2024-fig9-left", "--scale", "smoke", "--out", str(tmp_path)]
    code, _, err = run(capsys, *base, "--slurm", "timeout_min=5")
    assert code == 2 and "--backend slurm only" in err
    code, _, err = run(capsys, *base, "--address", "auto")
    assert code == 2 and "--backend ray only" in err
    code, _, err = run(capsys, *base, "--backend", "slurm", "--slurm", "novalue")
    assert code == 2 and "KEY=VALUE" in err
    code, _, err = run(capsys, *base, "--backend", "mpi")
    assert code == 2 and "invalid choice" in err
    assert not any(tmp_path.iterdir())


def test_run_vectorises_compatible_runs_unless_no_vmap(capsys, tmp_path):
    for flag, expected in ((), 2), (("--no-vmap",), 1):
        out_dir = tmp_path / ("vec" if not flag else "seq")
        code, _, err = run(capsys, "run", "sukenik2024-fig9-left", "--scale", "smoke", "--out",
                           str(out_dir), "--quiet", "--no-report", *flag)
        assert code == 0, err
        summaries = [json.loads(p.read_text())["summary"]
                     for p in out_dir.glob("*/smoke/*/summary.json")]
        assert len(summaries) == 2
        assert {s.get("group_size") for s in summaries} == {expected}


def test_list_shows_every_figure(capsys):
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    entries = {e["id"]: e for e in json.loads(out)}
    assert "jacot2025-fig5" in entries and "zangrando2024-fig7" in entries
    assert entries["xu2023-fig1"]["skipped"] and entries["sukenik2024-fig3-left"]["part_of_composite"]
    assert entries["sukenik2024-fig2-top"]["scales"]["cpu"]["est_cpu_minutes"] > 0
    code, out, _ = run(capsys, "list")
    assert "SKIPPED" in out and "sukenik2024-fig10" in out


def test_run_json_then_skip_runs_verify_report(capsys, tmp_path):
    out_dir = str(tmp_path / "runs")
    code, out, err = run(capsys, "run", "sukenik2024-fig2-top", "--scale", "smoke", "--out",
                         out_dir, "--json", "--quiet")
    assert code == 0, err
    summary = json.loads(out)
    exp = summary["experiments"][0]
    assert exp["experiment"] == "sukenik2024-fig2-top" and len(exp["runs"]) == 1
    run0 = exp["runs"][0]
    assert run0["status"] == "finished" and Path(run0["dir"]).is_dir()
    assert set(run0["final"]) >= {"H1", "H~2", "H4", "model"}
    assert "nc1_pinv" in run0["final"]["H4"]
    assert {c["status"] for c in exp["claims"]} == {"NOT-RUN"}  # no claims at smoke scale
    assert Path(exp["report"]).is_file()

    code, out, _ = run(capsys, "run", "sukenik2024-fig2-top", "--scale", "smoke", "--out",
                       out_dir, "--quiet")
    assert code == 0 and "0 runs trained, 1 already done" in out

    code, out, _ = run(capsys, "runs", "--out", out_dir, "--json")
    assert code == 0 and json.loads(out)[0]["status"] == "finished"
    code, out, _ = run(capsys, "runs", "--out", out_dir, "--where", "status = 'finished'")
    assert code == 0 and "sukenik2024-fig2-top" in out
    code, out, _ = run(capsys, "runs", "--out", out_dir, "--sql",
                       "SELECT count(*) AS n FROM metrics WHERE metric = 'loss'")
    assert code == 0 and "n" in out
    code, _, err = run(capsys, "runs", "--out", out_dir, "--sql", "SELECT nope FROM metrics")
    assert code == 2 and "query failed" in err

    code, out, _ = run(capsys, "verify", "sukenik2024-fig2-top", "--scale", "smoke", "--out",
                       out_dir, "--json")
    assert code == 0 and json.loads(out)["experiments"][0]["runs"] == 1

    code, out, _ = run(capsys, "report", "sukenik2024-fig2-top", "--out", out_dir)
    assert code == 0 and "report.html" in out
    code, out, _ = run(capsys, "report", run0["dir"])
    assert code == 0 and "report.html" in out
    code, _, err = run(capsys, "report", "sukenik2024-fig5", "--out", out_dir)
    assert code == 2 and "no runs" in err


def test_measure_npz_and_safetensors(capsys, tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    M = rng.normal(size=(3, 8))
    h1 = M[y] + 0.01 * rng.normal(size=(30, 8))
    h2 = rng.normal(size=(30, 5))
    W = rng.normal(size=(3, 8))
    f = tmp_path / "feats.npz"
    np.savez(f, y=y, h1=h1, h2=h2, W1=W)
    code, out, err = run(capsys, "measure", str(f), "--weights", "W*", "--json")
    assert code == 0, err
    rows = {(r["layer"], r["kind"]): r for r in json.loads(out)["rows"]}
    assert rows[("h1", "features")]["nc1_trace"] < 1e-3 < rows[("h2", "features")]["nc1_trace"]
    assert ("W1", "weight") in rows
    code, out, _ = run(capsys, "measure", str(f))
    assert code == 0 and "nc1_trace" in out
    bad = tmp_path / "bad.npz"
    np.savez(bad, y=y, h=np.array([{"a": 1}] * 30, dtype=object))
    code, _, err = run(capsys, "measure", str(bad))
    assert code == 2 and "object arrays are refused" in err
    code, _, err = run(capsys, "measure", str(f), "--labels", "nope")
    assert code == 2 and "no labels" in err
    from safetensors.numpy import save_file

    st = tmp_path / "feats.safetensors"
    save_file({"labels": y.astype(np.int64), "h1": h1}, str(st))
    code, out, _ = run(capsys, "measure", str(st), "--json")
    assert code == 0 and json.loads(out)["labels"] == "labels"


def test_theory_commands(capsys):
    from nclab.theory import dnc_loss, nc1_bound, srg_loss

    code, out, _ = run(capsys, "theory", "srg", "--r", "5", "--layers", "4", "--lambda",
                       "0.004", "--n", "50", "--json")
    assert code == 0
    res = json.loads(out)
    assert res["K"] == 10 and res["srg_loss"] == pytest.approx(srg_loss(5, 4, 0.004, 0.004, 50))
    assert res["dnc_loss"] == pytest.approx(dnc_loss(10, 4, 0.004, 0.004, 50))
    assert res["srg_ranks_pre"][-1] == 5 and res["srg_ranks_post"][-1] == 10
    code, out, _ = run(capsys, "theory", "srg", "--r", "5", "--layers", "4", "--lambda", "0.004")
    assert code == 0 and "ratio" in out
    code, _, err = run(capsys, "theory", "srg", "--r", "3", "--layers", "4", "--lambda", "0.004")
    assert code == 2
    args = ["--eps1", "0.1", "--eps2", "1e-6", "--r", "2", "--N", "100", "--K", "10",
            "--n-prev", "64", "--sK-Y", "3.16"]
    code, out, _ = run(capsys, "theory", "bound", *args, "--json")
    assert code == 0
    assert json.loads(out)["nc1_bound"] == pytest.approx(nc1_bound(0.1, 1e-6, 2, 100, 10, 64,
                                                                    3.16))
    assert run(capsys, "theory")[0] == 2


def test_console_script(tmp_path):
    assert NCLAB.exists(), NCLAB
    env = {**os.environ, "NCLAB_RUNS": str(tmp_path)}
    p = subprocess.run([str(NCLAB), "--help"], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and "nclab" in p.stdout
    p = subprocess.run([str(NCLAB), "run", "nope-fig1"], capture_output=True, text=True,
                       env=env)
    assert p.returncode == 2 and "unknown experiment" in p.stderr
    p = subprocess.run([sys.executable, "-m", "nclab.cli", "theory"], capture_output=True,
                       text=True, env=env)
    assert p.returncode == 2 and "usage: nclab theory" in p.stdout


def test_demo_with_smoke_experiments(capsys, tmp_path, monkeypatch):
    import nclab.demo as demo

    monkeypatch.setattr(demo, "DEMO", tuple((e, "smoke") for e, _ in demo.DEMO))
    code = main(["demo", "--out", str(tmp_path), "--jobs", "1"])
    out = capsys.readouterr().out
    assert code == 0
    for text in ("L_SRG (theory)", "L_DNC (theory)", "class-mean rank", "NC2 κ", "all reports"):
        assert text in out
    assert (tmp_path / "demo.html").is_file()


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_rerun_resumes(tmp_path):
    env = {**os.environ, "NCLAB_RUNS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    cmd = [str(NCLAB), "run", "sukenik2024-fig2-top", "--scale", "smoke", "--seeds", "1",
           "--set", "optim.steps=20000", "--no-report"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ckpt = tmp_path / "sukenik2024-fig2-top" / "smoke"
    deadline = time.time() + 120
    def saved_steps():
        return [int(c.name.split("_")[-1]) for c in ckpt.glob("*/train/checkpoints/step_*")]

    while time.time() < deadline and not any(s > 0 for s in saved_steps()):
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    run_dir = next(ckpt.iterdir())
    assert not (run_dir / "summary.json").exists()
    p = subprocess.run([*cmd, "--json", "--quiet"], capture_output=True, text=True, env=env,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["summary"]["resumed_at"] > 0
