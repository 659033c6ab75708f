import pytest
import torch

from nclab.data import class_sorted_labels
from nclab.models import DUFM, init_weights


def test_shapes_and_paper_orientation():
    model = DUFM(n_samples=20, widths=[6, 5, 4], n_classes=3)
    assert model.H1.shape == (6, 20) and model.L == 3
    assert [tuple(m.weight.shape) for m in model.layers] == [(5, 6), (4, 5), (3, 4)]
    assert model.features.shape == (20, 6)
    assert model.features.data_ptr() == model.H1.data_ptr()  # a view, not a copy
    assert model().shape == (20, 3)


def test_forward_is_definition_2_and_index_selects_columns():
    model = DUFM.uniform(12, 3, width=5, n_layers=4).double()
    W = [m.weight for m in model.layers]
    H = model.H1
    for Wl in W[:-1]:
        H = torch.relu(Wl @ H)
    torch.testing.assert_close(model(), (W[-1] @ H).T)
    idx = torch.tensor([0, 7, 11])
    torch.testing.assert_close(model(idx), model()[idx])
    outs = model.layer_outputs(index=idx)
    assert outs[0].name == "H1" and outs[0].pre.shape == (3, 5)
    torch.testing.assert_close(outs[-1].post, model()[idx])


def test_layer_outputs_take_no_input_and_follow_paper_indexing():
    model = DUFM.uniform(8, 2, width=4, n_layers=3)
    outs = model.layer_outputs()
    assert [o.name for o in outs] == ["H1", "layer1", "layer2", "layer3"]
    assert [o.is_linear for o in outs[1:]] == [False, False, True]
    # post of layer l is H_{l+1} = relu(W_l H_l)
    torch.testing.assert_close(outs[1].post.T, torch.relu(model.layers[0].weight @ model.H1))
    assert outs[0].part == "features" and all(o.part == "head" for o in outs[1:])
    assert model.head_weights() == model.weight_matrices()
    with pytest.raises(ValueError, match="no input batch"):
        model.layer_outputs(torch.zeros(8, 4))


@torch.no_grad()
def test_default_init_matches_part_c_choice():
    torch.manual_seed(0)
    model = DUFM.uniform(2000, 10, width=300, n_layers=3, feature_std=0.5)
    assert abs(float(model.H1.std()) - 0.5) < 0.01
    for m in model.layers[:-1]:
        assert abs(float(m.weight.var()) * 300 - 1.0) < 0.03  # N(0, 1/d_l)


def test_seeded_reinit_redraws_features_and_gradients_reach_h1():
    a = init_weights(DUFM.uniform(10, 2, 4, 3), "lecun_normal", seed=3)
    b = init_weights(DUFM.uniform(10, 2, 4, 3), "lecun_normal", seed=3)
    assert torch.equal(a.H1, b.H1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    y = torch.from_numpy(class_sorted_labels(2, 5))
    loss = torch.nn.functional.cross_entropy(a(), y)
    loss.backward()
    assert a.H1.grad is not None and float(a.H1.grad.abs().sum()) > 0


def test_relaxed_and_linear_variants():
    eps_model = DUFM.uniform(6, 2, 3, 3, activation="relu_eps")
    assert type(eps_model.activation).__name__ == "ReLUEps"
    lin = DUFM.uniform(6, 2, 3, 3, activation="identity").double()
    W = [m.weight for m in lin.layers]
    torch.testing.assert_close(lin(), (W[2] @ W[1] @ W[0] @ lin.H1).T)
    with pytest.raises(ValueError, match="positive"):
        DUFM(0, [3], 2)
    with pytest.raises(ValueError, match="n_layers"):
        DUFM.uniform(4, 2, 3, 0)
