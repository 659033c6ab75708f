r"""Graph objects behind the strongly-regular-graph (SRG) solution of Súkeník, Mondelli & Lampert
(P2, Definition 3 and §4).

Vertices of the complete graph K_r index rows, its ``K = C(r, 2)`` edges index columns (classes).
Edges are ordered lexicographically: (0,1), (0,2), ..., (0,r-1), (1,2), ...
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ._checks import integer


def complete_graph_edges(r: int) -> list[tuple[int, int]]:
    """The ``C(r, 2)`` edges ``(a, b)``, ``a < b``, of K_r in the column order used throughout."""
    return list(combinations(range(integer(r, "r", minimum=2)), 2))


def triangular_graph(r: int) -> dict:
    r"""Triangular graph 𝒯_r = line graph of K_r (P2 Definition 3), for ``r >= 4``.

    Returns a dict with

    - ``"G"``: adjacency G_r (K x K, K = C(r, 2)); edges of K_r are adjacent iff they share a
      vertex;
    - ``"T"``: normalised incidence matrix T_r (r x K), ``(T_r)_{v,e} = 1/sqrt(r-1)`` if v ∈ e,
      else 0 (every row has unit norm);
    - ``"edges"``: the edge (column) order;
    - ``"parameters"``: strongly-regular parameters ``(v, k, lambda, mu)`` measured on G
      (§4 states ``(r(r-1)/2, 2(r-2), r-2, 4)``);
    - ``"eigenvalues"``: eigenvalues of G in descending order (§4: ``2(r-2)`` once, ``r-4``
      (r-1 times), ``-2`` (r(r-3)/2 times)).

    Identities used by the SRG proofs (Lemma 12): ``T_r T_r^T = ((r-2)/(r-1)) I + 11^T/(r-1)``
    and ``T_r^T T_r = (2 I + G_r)/(r-1)``.
    """
    r = integer(r, "r", minimum=4)
    edges = complete_graph_edges(r)
    K = len(edges)
    T = np.zeros((r, K))
    for j, (a, b) in enumerate(edges):
        T[a, j] = T[b, j] = 1.0 / np.sqrt(r - 1)
    shared = np.array([[len(set(e) & set(f)) for f in edges] for e in edges])
    G = (shared == 1).astype(np.float64)
    return {
        "G": G,
        "T": T,
        "edges": edges,
        "parameters": strongly_regular_parameters(G),
        "eigenvalues": np.sort(np.linalg.eigvalsh(G))[::-1],
    }


def triangular_graph_spectrum(r: int) -> list[tuple[float, int]]:
    """Spectrum of G_r stated in P2 §4 as ``[(eigenvalue, multiplicity), ...]`` (descending)."""
    r = integer(r, "r", minimum=4)
    return [(2.0 * (r - 2), 1), (float(r - 4), r - 1), (-2.0, r * (r - 3) // 2)]


def strongly_regular_parameters(G) -> tuple[int, int, int, int]:
    r"""``(v, k, lambda, mu)`` of a strongly regular graph with adjacency ``G``.

    v vertices, each of degree k; adjacent pairs share ``lambda`` neighbours, non-adjacent pairs
    ``mu``. Raises ``ValueError`` when G is not a simple graph or is not strongly regular.
    """
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError(f"G must be a square adjacency matrix, got shape {G.shape}")
    if not (np.all((G == 0) | (G == 1)) and np.allclose(G, G.T) and not np.any(np.diag(G))):
        raise ValueError("G must be a symmetric 0/1 matrix with zero diagonal")
    v = G.shape[0]
    degrees = G.sum(axis=1)
    if not np.all(degrees == degrees[0]):
        raise ValueError("G is not regular")
    common = G @ G
    off = ~np.eye(v, dtype=bool)
    adj = common[(G == 1) & off]
    non = common[(G == 0) & off]
    if (adj.size and np.ptp(adj) != 0) or (non.size and np.ptp(non) != 0):
        raise ValueError("G is regular but not strongly regular")
    lam = int(adj[0]) if adj.size else 0
    mu = int(non[0]) if non.size else 0
    return v, int(degrees[0]), lam, mu


def last_layer_signs(r: int) -> np.ndarray:
    r"""``A_L^{(1)}`` of P2 Definition 9 (K x r): the row for vertex pair {a, b} (same order as
    the edges) has -1 at a and b and +1 elsewhere.

    Its product with T_r has, in the row of pair {a, b}, ``-2/sqrt(r-1)`` on the edge {a, b},
    0 on the ``2(r-2)`` edges touching exactly one of a, b and ``+2/sqrt(r-1)`` on the
    ``C(r-2, 2)`` disjoint edges — so each row has norm ``2 s/sqrt(r-1)`` with
    ``s = sqrt(C(r-2, 2) + 1)`` (the paper prints ``sqrt((r-2)(r-3)/2) + 1``, a misplaced
    bracket; Lemma 16's proof uses ``s^2 - 1 = C(r-2, 2)``).
    """
    r = integer(r, "r", minimum=4)
    edges = complete_graph_edges(r)
    A = np.ones((len(edges), r))
    for i, (a, b) in enumerate(edges):
        A[i, [a, b]] = -1.0
    return A
