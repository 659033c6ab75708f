import pytest
import torch

from nclab.models import ACTIVATIONS, ReLUEps, SmoothLeakyReLU, make_activation


def derivative(f, x):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x).sum(), x)
    return g


GRID = torch.linspace(-30.0, 30.0, 200001, dtype=torch.float64)


@pytest.mark.parametrize("gamma, beta", [(0.1, 1.0), (0.5, 3.0), (0.01, 20.0), (0.9, 1.0)])
def test_smooth_leaky_relu_satisfies_assumption_4_2(gamma, beta):
    sigma = SmoothLeakyReLU(gamma, beta)
    y, d = sigma(GRID), derivative(sigma, GRID)
    assert float(sigma(torch.zeros(1, dtype=torch.float64))) == 0.0
    # (i) sigma' in [gamma, 1]
    assert float(d.min()) >= gamma - 1e-15 and float(d.max()) <= 1.0 + 1e-15
    # (ii) |sigma(x)| <= |x|
    assert bool(torch.all(y.abs() <= GRID.abs() + 1e-15))
    # (iii) sigma' is beta-Lipschitz, and the constant is attained (at 0)
    h = GRID[1] - GRID[0]
    lip = (d[1:] - d[:-1]).abs().max() / h
    assert float(lip) <= beta * (1 + 1e-6)
    assert float(lip) >= 0.99 * beta
    # the autograd derivative matches central differences of sigma (error ~ h^2 |sigma'''|)
    torch.testing.assert_close((y[2:] - y[:-2]) / (2 * h), d[1:-1], atol=1e-4, rtol=0)


def test_smooth_leaky_relu_tends_to_leaky_relu_and_is_finite():
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    sharp = SmoothLeakyReLU(0.2, 1e4)
    torch.testing.assert_close(sharp(x), torch.nn.functional.leaky_relu(x, 0.2), atol=1e-4, rtol=0)
    big = torch.tensor([-1e6, 1e6], dtype=torch.float32)
    assert torch.isfinite(SmoothLeakyReLU()(big)).all()


@pytest.mark.parametrize("eps", [0.1, 1.0, 2.5])
def test_relu_eps_definition_7(eps):
    sigma = ReLUEps(eps)
    x = torch.linspace(-3 * eps, 3 * eps, 60001, dtype=torch.float64)
    y, d = sigma(x), derivative(sigma, x)
    outside = (x <= 0) | (x >= eps)
    # (i) equals ReLU outside (0, eps)
    assert torch.equal(y[outside], torch.relu(x[outside]))
    inside = (x > 0) & (x < eps)
    # (ii) 0 < sigma_eps(x) < sigma(x) on (0, eps)
    assert bool(torch.all((y[inside] > 0) & (y[inside] < x[inside])))
    # (iii) C^1 with bounded derivative, strictly positive on (0, eps)
    assert bool(torch.all(d[inside] > 0)) and float(d.max()) <= 4 / 3 + 1e-12
    assert float(d[inside].max()) == pytest.approx(4 / 3, rel=1e-6)
    h = x[1] - x[0]
    assert float((d[1:] - d[:-1]).abs().max()) < 1e-3  # no jump in the derivative
    for point in (0.0, eps):
        left, right = derivative(sigma, torch.tensor([point - 1e-9, point + 1e-9]).double())
        assert abs(float(left - right)) < 1e-6
    # central differences; sigma'' jumps at 0 and eps, giving errors up to ~ h * 2 / eps there
    torch.testing.assert_close((y[2:] - y[:-2]) / (2 * h), d[1:-1], atol=3 * h / eps, rtol=0)


def test_factory_names_modules_and_errors():
    x = torch.linspace(-2, 2, 9)
    assert make_activation("identity") is None and make_activation(None) is None
    torch.testing.assert_close(make_activation("tanh")(x), torch.tanh(x))
    torch.testing.assert_close(make_activation("relu")(x), torch.relu(x))
    leaky = make_activation("leaky_relu", negative_slope=0.3)
    torch.testing.assert_close(leaky(x), torch.where(x > 0, x, 0.3 * x))
    assert make_activation("relu-eps", eps=0.5).eps == 0.5
    assert make_activation("smooth_leaky_relu", gamma=0.2).gamma == 0.2
    module = torch.nn.Softplus()
    assert make_activation(module) is module
    for name in ACTIVATIONS:
        make_activation(name)
    with pytest.raises(ValueError, match="valid names: relu, leaky_relu"):
        make_activation("gelu")
    with pytest.raises(ValueError, match="bad arguments"):
        make_activation("relu_eps", gamma=0.1)
    with pytest.raises(ValueError, match="gamma"):
        SmoothLeakyReLU(gamma=1.0)
    with pytest.raises(ValueError, match="eps"):
        ReLUEps(0.0)
