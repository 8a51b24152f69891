"""bkdm.cosmo.solver.integrate_to_end: the end state and its derivatives (variational equation by
Radau IIA collocation on the solver's steps) against closed forms and against finite differences of
scipy Radau solves — references independent of the code under test."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from bkdm.cosmo import solver as slv
from bkdm.cosmo import tables

# tight tolerances, so that the tests measure the derivative's collocation error, not the solve's
# (DEFAULT's atol 1e-6 on y limits y(x1) itself to ~3e-7 here)
TIGHT = slv.SolverSettings(rtol=1e-11, atol=1e-11, max_steps=8192)

# ------------------------------------------------------------------------------- scalar, closed form
def relax(x, y, args):
    k, c = args
    return -k * (y - c * jnp.sin(x))


def relax_exact(x0, x1, y0, k, c):
    """y′ = −k (y − c sin x): y = c k (k sin x − cos x)/(1 + k²) + (y0 − that at x0) e^{−k(x − x0)}."""
    part = lambda x: c * k * (k * jnp.sin(x) - jnp.cos(x)) / (1.0 + k**2)
    return part(x1) + (y0 - part(x0)) * jnp.exp(-k * (x1 - x0))


@pytest.mark.parametrize("k", [0.7, 40.0, 3000.0])  # non-stiff, stiff, very stiff (k·(x1 − x0) = 6e3)
def test_scalar_derivatives_match_closed_form(k):
    theta = jnp.array([0.3, 2.3, 0.4, k, 1.3])  # x0, x1, y0, k, c

    def end(t):
        return slv.integrate_to_end(relax, t[0], t[1], t[2], (t[3], t[4]), TIGHT).y1

    def exact(t):
        return relax_exact(t[0], t[1], t[2], t[3], t[4])

    assert float(jax.jit(end)(theta)) == pytest.approx(float(exact(theta)), rel=1e-7)
    fwd = np.asarray(jax.jit(jax.jacfwd(end))(theta))
    rev = np.asarray(jax.jit(jax.grad(end))(theta))
    want = np.asarray(jax.jacfwd(exact)(theta))
    # derivatives agree with the closed form to 1e-6 of the largest one (measured ≤ 1.3e-8); entries
    # below that scale (e.g. ∂y/∂y0 = e^{−k Δx}) are absolute. (At DEFAULT tolerances ∂y(x1)/∂x1 =
    # f(x1, y1) carries the solve's own error × k: 8e-4 at k = 3000 — a property of the end state.)
    scale = np.abs(want).max()
    np.testing.assert_allclose(fwd, want, atol=1e-6 * scale, rtol=0)
    # reverse mode transposes the same linear map: equal to round-off
    np.testing.assert_allclose(rev, fwd, atol=1e-12 * scale, rtol=1e-10)


def test_vmap_and_jvp_under_vmap():
    ks = jnp.array([0.7, 40.0, 3000.0])

    def end(k):
        return slv.integrate_to_end(relax, 0.3, 2.3, 0.4, (k, 1.3), TIGHT).y1

    vals = jax.jit(jax.vmap(end))(ks)
    ders = jax.jit(jax.vmap(jax.grad(end)))(ks)
    exact = [float(relax_exact(0.3, 2.3, 0.4, k, 1.3)) for k in ks]
    np.testing.assert_allclose(np.asarray(vals), exact, rtol=1e-7)
    want = [float(jax.grad(lambda kk: relax_exact(0.3, 2.3, 0.4, kk, 1.3))(k)) for k in ks]
    np.testing.assert_allclose(np.asarray(ders), want, rtol=1e-5, atol=1e-9)


# ------------------------------------------------------------------------------- 2-D, nonlinear, scipy
def stiff2(x, y, args):
    """A 2-D stiff nonlinear system (fast exchange a ↔ b at rate p0, slow quadratic loss of b)."""
    p0, p1, p2 = args
    a, b = y[0], y[1]
    return jnp.stack([-p0 * (a - b**2) + p2 * jnp.cos(x), p0 * (a - b**2) / (1.0 + 2.0 * b) - p1 * b])


def _scipy_end(theta):
    x0, x1, a0, b0, p0, p1, p2 = theta

    def f(x, y):  # stiff2 in numpy (no JAX dispatch per call)
        a, b = y
        return [-p0 * (a - b**2) + p2 * np.cos(x), p0 * (a - b**2) / (1.0 + 2.0 * b) - p1 * b]

    sol = solve_ivp(f, (x0, x1), [a0, b0], method="Radau", rtol=1e-13, atol=1e-14)
    return sol.y[:, -1]


def test_two_dimensional_jacobian_vs_scipy_finite_differences():
    theta = np.array([0.0, 3.0, 0.8, 0.5, 200.0, 0.9, 0.3])

    def end(t):
        return slv.integrate_to_end(stiff2, t[0], t[1], t[2:4], tuple(t[4:]), TIGHT, panels=128).y1

    jac = np.asarray(jax.jit(jax.jacfwd(end))(jnp.asarray(theta)))
    # reference: central differences of scipy Radau at rtol 1e-13 (step 1e-5 relative: truncation
    # ~1e-10, round-off 1e-13/1e-5 = 1e-8 of the entry scale). 645 solver steps here, 128 panels
    # (5 steps merged per panel): measured 1.0e-6 of the largest entry (64 panels: 3e-5).
    fd = np.zeros((2, theta.size))
    for i in range(theta.size):
        h = 1e-5 * max(abs(theta[i]), 1.0)
        up, dn = theta.copy(), theta.copy()
        up[i] += h
        dn[i] -= h
        fd[:, i] = (_scipy_end(up) - _scipy_end(dn)) / (2 * h)
    np.testing.assert_allclose(jac, fd, atol=1e-5 * np.abs(fd).max(), rtol=0)


def test_rodas4_differentiates_through_its_steps():
    rodas = slv.SolverSettings(method="rodas4", pcoeff=0.0, icoeff=1.0)
    theta = jnp.array([0.3, 2.3, 0.4, 40.0, 1.3])

    def end(t):
        return slv.integrate_to_end(relax, t[0], t[1], t[2], (t[3], t[4]), rodas).y1

    want = np.asarray(jax.jacfwd(lambda t: relax_exact(*t))(theta))
    got = np.asarray(jax.jit(jax.jacfwd(end))(theta))
    np.testing.assert_allclose(got, want, atol=1e-5 * np.abs(want).max())


def test_failed_solve_reports_status_under_differentiation():
    few = dataclasses.replace(slv.DEFAULT, max_steps=3)
    def end(k):
        return slv.integrate_to_end(relax, 0.3, 2.3, 0.4, (k, 1.3), few)

    out, _ = jax.jit(lambda k: jax.jvp(end, (k,), (1.0,)))(3000.0)
    assert int(out.status) != 0


# ------------------------------------------------------------------------------- table ends
def test_table_at_its_end_has_the_interior_derivative():
    # the last collocation node lies exactly at the end of a table built over the solve's interval:
    # d/du_hi of table(u_hi) at fixed u must be the (≈ 0) interior value, not ½ f′ (a clip at a tie)
    # or f′ (clamped by a rounding error)
    f = lambda u: jnp.sin(3.0 * u)
    u = 1.7
    builds = (lambda hi: tables.tabulate(f, 0.2, hi, 24), lambda hi: tables.tabulate_hermite(f, 0.2, hi, 400))
    for build in builds:
        d = float(jax.grad(lambda hi, b=build: b(hi)(u))(u))
        assert abs(d) < 1e-6 * 3.0
