"""Profiled Belle II nuisances (bkdm.inference.nuisance_profile).

References: pyhf's own fixed-signal fit (``pyhf.infer.mle.fixed_poi_fit``, SLSQP with JAX gradients)
of the same reweighted workspace (μ = 1, signal shapefactors fixed at r(B_NP)); scipy L-BFGS-B
(``Belle2Likelihood.fit``) where a nuisance ends on its bound; closed-form minima and Hessians of
synthetic test functions for the Newton iteration and the coloured Hessian.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pyhf
import pytest

from bkdm import flavour as fl
from bkdm.inference import nuisance_profile as npf
from bkdm.likelihoods import belle2
from bkdm.likelihoods.belle2 import Belle2Likelihood


# ------------------------------------------------------------------------------ synthetic functions
def sparse_quartic(n=40, seed=0):
    """f(x, a) = ½ (x − a)ᵀ A (x − a) + Σ (x_i − a_i)⁴/4, A sparse SPD: 3 dense 'α' columns and a
    block-diagonal 'γ' part (pairs); minimum at x = a (inside the bounds), Hessian A + 3 diag(x − a)²."""
    rng = np.random.default_rng(seed)
    a_mat = np.zeros((n, n))
    dense = 0.1 * rng.standard_normal((n, 3))
    a_mat[:, :3] = dense
    a_mat[:3, :] = dense.T
    for i in range(3, n - 1, 2):
        a_mat[i, i + 1] = a_mat[i + 1, i] = 0.3
    a_mat = jnp.asarray(0.5 * (a_mat + a_mat.T) + np.diag(np.full(n, 2.0)))

    def f(x, a):
        d = x - a
        return 0.5 * d @ a_mat @ d + 0.25 * jnp.sum(d**4)

    return f, a_mat


def quartic_profiler(bound, seed):
    """A NuisanceProfiler of the sparse quartic in the box [−bound, bound]ⁿ, its sparsity pattern measured
    at 3 random points; returns (profiler, A, lower, upper, the generator, to draw the test's points)."""
    f, a_mat = sparse_quartic()
    n = a_mat.shape[0]
    lower, upper = -np.full(n, bound), np.full(n, bound)
    rng = np.random.default_rng(seed)
    points = [(rng.uniform(-1, 1, n), (jnp.asarray(rng.uniform(-1, 1, n)),)) for _ in range(3)]
    profiler = npf.NuisanceProfiler(f, lower, upper, npf.measure_pattern(f, lower, upper, points), n_dense=3)
    return profiler, a_mat, lower, upper, rng


def test_coloured_hessian_of_a_sparse_function_is_exact():
    profiler, a_mat, _, _, rng = quartic_profiler(bound=5.0, seed=1)
    n = a_mat.shape[0]
    assert profiler.n_products == 3 + 2  # 3 dense columns + the pairs in two colours
    x, a = jnp.asarray(rng.uniform(-1, 1, n)), jnp.asarray(rng.uniform(-1, 1, n))
    exact = np.asarray(a_mat) + np.diag(3.0 * np.asarray(x - a) ** 2)
    np.testing.assert_allclose(np.asarray(profiler.hessian(x, a)), exact, rtol=0, atol=1e-13)


def test_newton_finds_the_minimum_holds_bounds_and_reports_failures():
    profiler, a_mat, lower, upper, rng = quartic_profiler(bound=1.0, seed=2)
    n = a_mat.shape[0]
    a = jnp.asarray(rng.uniform(-0.5, 0.5, n))
    # rows: two random starts; a minimum outside the box (coordinate 10 ends on its bound, the rest
    # is the constrained minimum); coordinate 5 fixed by equal bounds; a non-finite function
    lo, hi = np.tile(lower, (5, 1)), np.tile(upper, (5, 1))
    lo[3, 5] = hi[3, 5] = 0.25
    targets = jnp.stack([a, a, a.at[10].set(1.6), a, jnp.full(n, jnp.nan)])
    out = jax.jit(jax.vmap(profiler.solve_bounded))(jnp.asarray(rng.uniform(-1, 1, (5, n))), lo, hi, targets)
    status, nu = np.asarray(out["status"]), np.asarray(out["nu"])
    assert list(status) == [npf.STATUS_OK] * 4 + [npf.STATUS_NONFINITE]
    # EDM ≤ 1e-6 with Hessian eigenvalues ≥ 1.4 → |x − a| ≤ √(2·1e-6/1.4) ≈ 1.2e-3
    np.testing.assert_allclose(nu[:2], np.stack([a, a]), atol=1.2e-3)
    assert np.all(np.asarray(out["twice_nll"])[:2] <= 1e-6)
    assert nu[2, 10] == 1.0 and nu[3, 5] == 0.25
    one = jax.jit(lambda x0, a: profiler.solve_bounded(x0, lower, upper, a, max_iterations=1))
    one = one(jnp.zeros(n), a)
    assert int(one["status"]) == npf.STATUS_MAX_ITERATIONS and float(one["edm"]) > npf.EDM_TOL


# ------------------------------------------------------------------------------------------ Belle II
@pytest.fixture(scope="module")
def setup():
    lik = Belle2Likelihood()
    index = np.flatnonzero(np.arange(len(lik.init)) != lik.poi_index)
    base = lik.init.copy()
    base[lik.poi_index] = 1.0
    profiler = npf.for_belle2(lik, index, base)
    return lik, index, base, profiler, jax.jit(profiler.solve)


def pyhf_fixed_signal_fit(lik, b_np):
    """pyhf's fixed_poi_fit at μ = 1 with the shapefactors fixed at r(B_NP) (their bounds widened:
    a fixed parameter's bound only matters to pyhf's input check)."""
    config = lik.model.config
    init = np.asarray(lik.full_parameters(jnp.asarray(lik.init).at[lik.poi_index].set(1.0), b_np))
    fixed = list(config.suggested_fixed())
    bounds = [list(b) for b in config.suggested_bounds()]
    for i in lik.np_index:
        fixed[i], bounds[i] = True, [0.0, 1e4]
    with belle2._pyhf_backend("jax"):
        _, twice_nll = pyhf.infer.mle.fixed_poi_fit(
            1.0, jnp.asarray(lik.data), lik.model, init_pars=init.tolist(), par_bounds=bounds,
            fixed_params=fixed, return_fitted_val=True, do_grad=True)
    return float(twice_nll)


def check_against_pyhf(setup, m_x, br):
    """pyhf's SLSQP stops within ~3e-6 of the minimum (measured), Newton within EDM ≤ 1e-6:
    tolerance 1e-3 (the issue's), and Newton never above pyhf by more than pyhf's own 2e-5."""
    lik, index, base, _, solve = setup
    b = br * fl.two_body_bin_weights(m_x)
    result = solve(jnp.asarray(base[index]), b)
    assert int(result["status"]) == npf.STATUS_OK and float(result["edm"]) <= npf.EDM_TOL
    reference = pyhf_fixed_signal_fit(lik, b)
    assert float(result["twice_nll"]) == pytest.approx(reference, abs=1e-3)
    assert float(result["twice_nll"]) <= reference + 2e-5


def test_profiled_sm_matches_pyhf_fixed_poi_fit(setup):
    check_against_pyhf(setup, 2.1, 0.0)


@pytest.mark.slow
@pytest.mark.parametrize("m_x,br", [(2.1, 9e-6), (3.0, 2e-5), (1.3, 1.5e-5)])
def test_profiled_signal_points_match_pyhf_fixed_poi_fit(setup, m_x, br):
    """Near the dark-photon best fit, a point ≈ 4σ away and one at low m_X (with the SM point of the
    default suite: four points)."""
    check_against_pyhf(setup, m_x, br)


@pytest.mark.slow
def test_belle2_coloured_hessian_and_a_bound_active_point(setup):
    lik, index, base, profiler, solve = setup
    f = npf.belle2_function(lik, index, base)
    rng = np.random.default_rng(3)
    nu = jnp.asarray(np.clip(base[index] + 0.3 * rng.standard_normal(index.size), profiler.lower + 0.01,
                             profiler.upper - 0.01))
    b = 3e-5 * fl.two_body_bin_weights(3.3)
    exact = np.asarray(jax.hessian(f)(nu, b))
    np.testing.assert_allclose(np.asarray(jax.jit(profiler.hessian)(nu, b)), exact, rtol=0,
                               atol=1e-9 * np.abs(exact).max())  # same AD products recombined: round-off
    # BR·P_inv = 1e-4 at 2.1 GeV pushes a nuisance onto its bound (measured); scipy L-BFGS-B as reference
    b = 1e-4 * fl.two_body_bin_weights(2.1)
    result = solve(jnp.asarray(base[index]), b)
    reference = lik.fit(b_np_bins=b, mu=1.0)
    pars = reference.pars[index]
    on_bound = np.sum((pars <= profiler.lower + 1e-6) | (pars >= profiler.upper - 1e-6))
    assert on_bound >= 1 and int(result["status"]) == npf.STATUS_OK
    assert float(result["twice_nll"]) == pytest.approx(reference.twice_nll, abs=1e-3)
