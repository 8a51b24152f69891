"""Rodas4 (bkdm.cosmo.rosenbrock), the optional linearly implicit solver: its order on an ODE with an
exact solution, L-stable behaviour on a very stiff one, and agreement with the Kvaerno5 PRECISE solves
of the Boltzmann systems (themselves checked against scipy Radau in their own test files)."""

import dataclasses

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bkdm.cosmo import rosenbrock
from bkdm.cosmo import solver as slv
from bkdm.models import alp, resonant_alp
from bkdm.models import dark_photon as dp

RODAS = slv.SolverSettings(rtol=1e-6, atol=1e-6, method="rodas4", pcoeff=0.0, icoeff=1.0)


def _prothero_robinson(lam):
    # y' = −λ(y − cos t) − sin t, exact y = cos t + (y₀ − 1) e^{−λt}: non-autonomous, so the d_i h f_t
    # terms of the method are exercised (without them the order drops)
    return lambda t, y, args: -lam * (y - jnp.cos(t)) - jnp.sin(t)


def _fixed_step_error(lam, h):
    y0 = jnp.array([2.0])
    sol = diffrax.diffeqsolve(diffrax.ODETerm(_prothero_robinson(lam)), rosenbrock.Rodas4(), 0.0, 1.0, h, y0,
                              stepsize_controller=diffrax.ConstantStepSize(), max_steps=1000)
    exact = np.cos(1.0) + np.exp(-lam * 1.0)
    return abs(float(sol.ys[-1, 0]) - exact)


def test_fourth_order_convergence_with_time_dependence():
    # Halving h divides the global error by 2⁴ = 16 for an order-4 method: measured 15.6–16.0
    # (λ = 2, h = 0.1 → 0.025); accepted range [13, 19] (asymptotic regime, leading-term slack).
    errs = [_fixed_step_error(2.0, h) for h in (0.1, 0.05, 0.025)]
    for a, b in zip(errs[:-1], errs[1:], strict=True):
        assert 13.0 < a / b < 19.0


def _dense_error(lam, h):
    """Max error of the Rodas4 dense output at two points inside every fixed step (t > 0.2, past the
    transient's start), against the exact solution."""
    sol = diffrax.diffeqsolve(diffrax.ODETerm(_prothero_robinson(lam)), rosenbrock.Rodas4(), 0.0, 1.0, h,
                              jnp.array([2.0]), stepsize_controller=diffrax.ConstantStepSize(),
                              max_steps=1000, saveat=diffrax.SaveAt(dense=True))
    mids = np.arange(round(1.0 / h)) * h
    t = np.concatenate([mids + 0.5 * h, mids + 0.8 * h])
    t = t[t > 0.2]
    y = np.asarray(jax.vmap(sol.evaluate)(jnp.asarray(t)))[:, 0]
    return np.abs(y - (np.cos(t) + np.exp(-lam * t))).max()


def test_dense_output_is_third_order_and_stiffly_accurate():
    # rodas.f's continuous extension (local error O(h⁴)): halving h divides the in-step error by ~16
    # (measured 14.8, 15.4 at λ = 2, h = 0.1 → 0.025; a linear interpolant would give 4, with errors
    # h²|y″|/8 ≈ 3e-4 at h = 0.05 instead of the measured 9.5e-8). Stiff (λ = 1e4, h = 0.05 ≫ 1/λ):
    # measured 1.5e-6, bound 1e-5.
    errs = [_dense_error(2.0, h) for h in (0.1, 0.05, 0.025)]
    for a, b in zip(errs[:-1], errs[1:], strict=True):
        assert 12.0 < a / b < 19.0
    assert errs[1] < 2e-7
    assert _dense_error(1e4, 0.05) < 1e-5


def test_l_stable_on_a_very_stiff_problem():
    # λ = 1e8: the transient dies in the first step; an L-stable method follows y = cos t with steps
    # ≫ 1/λ. Adaptive rtol = atol = 1e-8 → error ≤ 1e-7 in ≤ 200 steps (measured ~4e-10, 40 steps).
    sol = slv.integrate(_prothero_robinson(1e8), 0.0, 1.0, jnp.array([2.0]), None,
                        dataclasses.replace(RODAS, rtol=1e-8, atol=1e-8))
    assert slv.succeeded(sol)
    assert abs(float(sol.ys[-1, 0]) - np.cos(1.0)) < 1e-7
    assert int(sol.stats["num_steps"]) <= 200


NEAR = resonant_alp.Params(m_a=1.0, m_chi=0.49, g_agg=1.1165e-05, g_aww=1.1165e-05, g_achichi=1e-2)
DP = dp.Params(m_x=2.1, epsilon=1e-3, delta=0.0, alpha_x=0.05, m_psi=0.3, m_hp=0.05)
ALP = alp.Params.universal(m_a=2.1, f_a=1.5e8, c_q=1.0, c_sb_v=1.0, c_chi=1.0, m_chi=1e-3)


@pytest.mark.parametrize("name, solve, tol", [
    # tolerances: measured 7.8e-8 (dark photon), 4.9e-8 (ALP), 3.3e-6 (cBE near resonance) at
    # rtol = atol = 1e-6; bounds leave ~10× room and stay below the 1e-4 of the scipy comparisons
    pytest.param("dark photon freeze-out", lambda p, s: dp.relic(DP, s), 1e-6, marks=pytest.mark.slow),
    pytest.param("ALP freeze-in", lambda p, s: alp.relic(ALP, s), 1e-6, marks=pytest.mark.slow),
    ("resonant ALP cBE", lambda p, s: resonant_alp.relic(NEAR, "cbe", s), 3e-5),
])
def test_boltzmann_systems_agree_with_kvaerno_precise(name, solve, tol):
    ro = jax.jit(lambda: solve(None, RODAS))()
    kv = jax.jit(lambda: solve(None, slv.PRECISE))()
    assert int(ro.status) == 0, name
    assert float(ro.omega_h2) / float(kv.omega_h2) == pytest.approx(1.0, abs=tol), name


def _alp_omega(theta, settings):
    p = alp.Params.universal(m_a=theta[0], f_a=theta[1], c_q=1.0, c_sb_v=1.0, c_chi=1.0, m_chi=theta[2])
    return alp.relic(p, settings).omega_h2


_ALP_THETA = jnp.array([2.1, 1.5e8, 3e-3])


@pytest.mark.slow  # ~4 min: three jacfwd compiles of the ALP freeze-in (Rodas4 and Kvaerno5 ForwardMode)
def test_forward_mode_through_rodas4_on_the_alp_freeze_in():
    # d ln Ωh²/d ln θ (θ = m_a, f_a, m_χ) of the ALP freeze-in with Rodas4 (jacfwd, ForwardMode)
    # against Kvaerno5 PRECISE: measured ≤ 2e-6; tolerance 1e-4 (both are discrete derivatives of
    # solves accurate to ~1e-7). The default suite checks Rodas4 forward mode against a closed form
    # (tests/test_solver.py::test_rodas4_differentiates_through_its_steps).
    theta = _ALP_THETA
    fwd = dataclasses.replace(RODAS, forward_mode=True)
    g = jax.jit(jax.jacfwd(lambda t: _alp_omega(t, fwd)))(theta)
    precise_fwd = dataclasses.replace(slv.PRECISE, forward_mode=True)
    g_ref = jax.jit(jax.jacfwd(lambda t: _alp_omega(t, precise_fwd)))(theta)
    val = float(jax.jit(lambda t: _alp_omega(t, slv.PRECISE))(theta))
    np.testing.assert_allclose(np.asarray(g * theta / val), np.asarray(g_ref * theta / val), atol=1e-4)


@pytest.mark.slow  # ~45 s; vmapped relic solves stay tested per system (test_freeze_out, test_scan)
def test_vmap_through_rodas4_equals_single_solves():
    # vmap over two ALP points equals the single-point Rodas4 solves to 1e-12 (same steps: the
    # controller runs per lane; only summation order may differ).
    pts = jnp.stack([_ALP_THETA, _ALP_THETA * jnp.array([1.2, 0.7, 1.5])])
    batch = jax.jit(jax.vmap(lambda t: _alp_omega(t, RODAS)))(pts)
    single_solve = jax.jit(lambda t: _alp_omega(t, RODAS))
    single = [float(single_solve(t)) for t in pts]
    np.testing.assert_allclose(np.asarray(batch), single, rtol=1e-12)


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method"):
        slv.SolverSettings(method="radau")
