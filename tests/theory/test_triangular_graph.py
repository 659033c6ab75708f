"""P2 Definition 3 and §4: the triangular graph, its incidence matrix and spectrum."""

import numpy as np
import pytest

from nclab.theory import (
    complete_graph_edges,
    last_layer_signs,
    strongly_regular_parameters,
    triangular_graph,
    triangular_graph_spectrum,
)


@pytest.mark.parametrize("r", [4, 5, 6, 7, 9])
def test_strongly_regular_parameters_and_spectrum(r):
    g = triangular_graph(r)
    K = r * (r - 1) // 2
    assert g["G"].shape == (K, K) and g["T"].shape == (r, K)
    assert g["parameters"] == (K, 2 * (r - 2), r - 2, 4)
    expected = np.concatenate([np.full(m, v) for v, m in triangular_graph_spectrum(r)])
    np.testing.assert_allclose(g["eigenvalues"], np.sort(expected)[::-1], atol=1e-10)


@pytest.mark.parametrize("r", [4, 6, 8])
def test_incidence_identities_of_lemma12(r):
    g = triangular_graph(r)
    T, G = g["T"], g["G"]
    ones = np.ones((r, r))
    np.testing.assert_allclose(np.linalg.norm(T, axis=1), 1.0)
    np.testing.assert_allclose(T @ T.T, (r - 2) / (r - 1) * np.eye(r) + ones / (r - 1), atol=1e-14)
    np.testing.assert_allclose(T.T @ T, (2 * np.eye(len(G)) + G) / (r - 1), atol=1e-14)
    inv = np.linalg.inv(np.eye(r) + ones / (r - 2))
    np.testing.assert_allclose(inv, np.eye(r) - ones / (2 * (r - 1)), atol=1e-14)
    np.testing.assert_allclose(
        inv @ inv, np.eye(r) - (3 * r - 4) / (4 * (r - 1) ** 2) * ones, atol=1e-14
    )


def test_adjacency_means_shared_vertex():
    g = triangular_graph(5)
    edges = complete_graph_edges(5)
    for i, e in enumerate(edges):
        for j, f in enumerate(edges):
            assert g["G"][i, j] == (len(set(e) & set(f)) == 1)


@pytest.mark.parametrize("r", [4, 5, 7])
def test_last_layer_sign_rows(r):
    A = last_layer_signs(r)
    rows = A @ triangular_graph(r)["T"] * np.sqrt(r - 1)
    n_disjoint = (r - 2) * (r - 3) // 2
    for i, row in enumerate(rows):
        assert row[i] == -2
        assert np.sum(row == 2) == n_disjoint and np.sum(row == 0) == 2 * (r - 2)
    # s^2 - 1 = C(r-2, 2): the corrected normaliser of Lemma 14/16
    s = np.linalg.norm(rows, axis=1) / 2
    np.testing.assert_allclose(s**2 - 1, n_disjoint)
    assert not np.isclose(s[0], np.sqrt(n_disjoint) + 1)  # the printed normaliser is wrong


def test_not_strongly_regular_is_rejected():
    path = np.zeros((4, 4))
    for i in range(3):
        path[i, i + 1] = path[i + 1, i] = 1
    with pytest.raises(ValueError, match="not regular"):
        strongly_regular_parameters(path)
    assert strongly_regular_parameters(np.ones((4, 4)) - np.eye(4)) == (4, 3, 2, 0)


@pytest.mark.parametrize("bad", [3, 2.0, True, "5"])
def test_bad_r(bad):
    with pytest.raises(ValueError, match="r must"):
        triangular_graph(bad)
