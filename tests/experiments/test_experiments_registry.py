"""The registry holds one definition per figure, and every definition plans at every scale."""

from dataclasses import replace

import pytest

from nclab.experiments import registry
from nclab.experiments.spec import SCALES, Experiment
from nclab.running import PlanError, plan

FIGURES = (
    [f"jacot2025-fig{i}" for i in range(1, 6)]
    + [f"zangrando2024-fig{i}" for i in range(1, 8)]
    + [f"sukenik2024-fig{i}" for i in range(1, 11)]
    + [f"xu2023-fig{i}" for i in (3, 4, 6, 7, 8, 9, 10)]
)
LEAVES = [e.id for e in registry.leaves()]


def test_every_figure_of_the_issue_is_registered():
    ids = registry.ids()
    missing = [i for i in FIGURES if i not in ids]
    assert not missing
    assert len(set(ids)) == len(ids)


def test_skipped_figures_say_why():
    skipped = [e for e in registry.all_experiments() if e.skipped]
    assert {e.id for e in skipped} == {"xu2023-fig1", "xu2023-fig2"}
    assert all("no numbers" in e.skipped for e in skipped)
    with pytest.raises(PlanError, match="not runnable"):
        plan(skipped[0], "smoke")


def test_unknown_id_suggests_close_ones():
    with pytest.raises(KeyError, match="did you mean sukenik2024-fig2"):
        registry.get("sukenik2024-fig22")
    assert registry.get("sukenik2024-fig3-left").compute is not None


def test_kind_says_whether_an_experiment_trains():
    assert registry.get("sukenik2024-fig3-left").kind == "theory"
    assert registry.get("papyan2020-fmnist").kind == "train"  # its compute is a training loop
    with pytest.raises(ValueError, match="trains=True"):
        replace(registry.get("sukenik2024-fig2-top"), compute=None, trains=True)


def test_composites_hold_parts_and_parts_are_reachable():
    fig3 = registry.get("sukenik2024-fig3")
    assert fig3.kind == "composite"
    assert [p.id for p in fig3.leaves()] == [
        "sukenik2024-fig3-left", "sukenik2024-fig3-middle", "sukenik2024-fig3-right"]
    for part in fig3.parts:
        assert registry.get(part.id) is part
    assert set(LEAVES) >= {p.id for p in fig3.parts}


@pytest.mark.parametrize("exp_id", LEAVES)
def test_definition_is_complete(exp_id):
    exp = registry.get(exp_id)
    assert isinstance(exp, Experiment)
    assert set(exp.scales) == set(SCALES), "every experiment has smoke, cpu and paper scales"
    assert exp.panels, "a figure spec"
    assert exp.claims, "the paper's claims"
    assert all(c.source for c in exp.claims)
    assert all(c.scales for c in exp.claims)
    assert exp.scales["cpu"].est_cpu_minutes is not None
    assert exp.scales["cpu"].note or exp.compute is not None
    assert exp.source and exp.description


@pytest.mark.parametrize("exp_id", LEAVES)
@pytest.mark.parametrize("scale", SCALES)
def test_plans_resolve_at_every_scale(exp_id, scale):
    exp = registry.get(exp_id)
    runs = plan(exp, scale)
    sc = exp.scales[scale]
    n_points = 1
    for values in sc.grid.values():
        n_points *= len(values)
    assert len(runs) == n_points * sc.seeds
    assert len({r.run_id for r in runs}) == len(runs)
    if exp.compute is None:
        assert all(r.config.seed == r.seed for r in runs)


def test_paper_scale_uses_the_papers_data_and_hyper_parameters():
    top = plan(registry.get("sukenik2024-fig2-top"), "paper")
    cfg = top[0].config
    assert len(top) == 10
    assert (cfg.data.K, cfg.data.n_per_class, cfg.model.widths) == (10, 50, (30, 30, 30, 30))
    assert (cfg.reg.weight_decay, cfg.reg.feature_decay, cfg.optim.lr) == (0.004, 0.004, 0.5)
    bottom = plan(registry.get("sukenik2024-fig2-bottom"), "paper")[0].config
    assert (bottom.data.name, bottom.model.arch, bottom.reg.scheme) == (
        "cifar10", "resnet20", "dufm_like")
    assert (bottom.reg.weight_decay, bottom.reg.feature_decay) == (0.005, 5e-6)
    fig4 = plan(registry.get("jacot2025-fig4"), "paper")[0].config
    assert (fig4.data.name, fig4.reg.weight_decay, fig4.optim.lr, fig4.optim.epochs) == (
        "mnist", 0.0018, 0.001, 10000)
    assert len(fig4.model.widths) + 1 == 9 and fig4.model.n_linear == 4
    xu = plan(registry.get("xu2023-fig6"), "paper")[0].config
    assert xu.model.conv_channels == (32, 64, 128, 128) and xu.data.classes == (1, 2)


def test_derived_grid_keys():
    runs = plan(registry.get("jacot2025-fig2-mlp"), "cpu")
    by_depth = {r.params["linear_depth"]: r.config for r in runs}
    for L2, cfg in by_depth.items():
        assert cfg.model.n_linear == L2
        assert len(cfg.model.widths) + 1 == 5 + L2  # 2 backbone + 3 ReLU + L2 linear
    fig3 = plan(registry.get("jacot2025-fig3"), "paper")
    for r in fig3:
        n_layers = len(r.config.model.widths) + 1
        assert n_layers == r.params["nonlinear_depth"] + 2
        assert r.config.reg.weight_decay == pytest.approx(0.016 / n_layers)
