"""Root finding for Ωh²(x) = target (bkdm.inference.relic_target) on analytic, monotonic Ω(x) whose
roots are known in closed form or from scipy's brentq (independent references)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

from bkdm.inference.relic_target import solve_log, solve_log_batch

TARGET = 0.12


def omega(x, c):
    """ln Ω = c − 2 ln x + ½ tanh(ln x): decreasing in x (d ln Ω/d ln x ∈ [−2, −1.5])."""
    v = jnp.log(x)
    return jnp.exp(c - 2.0 * v + 0.5 * jnp.tanh(v))


def brentq_root(c):
    f = lambda v: c - 2.0 * v + 0.5 * np.tanh(v) - np.log(TARGET)
    return np.exp(brentq(f, -50.0, 50.0, xtol=1e-14, rtol=1e-15))


CS = np.array([-10.0, -3.0, 0.0, 4.0])


def test_solve_log_jit_and_vmap_match_brentq():
    # 40 safeguarded-Newton iterations on a smooth function reach machine precision: rtol 1e-10.
    solve = jax.jit(jax.vmap(lambda c: solve_log(lambda x: omega(x, c), 1e-8, 1e8)))
    x, residual, ok = solve(jnp.asarray(CS))
    assert np.all(np.asarray(ok))
    np.testing.assert_allclose(np.asarray(x), [brentq_root(c) for c in CS], rtol=1e-10)
    assert np.all(np.asarray(residual) < 1e-9)


def test_solve_log_flags_a_bracket_without_a_root():
    _, _, ok = solve_log(lambda x: omega(x, 0.0), 1e3, 1e4)  # Ω < 0.12 on the whole bracket
    assert not bool(ok)


def test_solve_log_batch_matches_brentq_and_survives_failed_points():
    # The secant converges to |ln Ω/target| < tol = 1e-10 → x to ≈ tol/|slope| ≈ 1e-10 relative.
    calls = []

    def log_ratio(x):
        calls.append(1)
        out = np.log(np.asarray(omega(jnp.asarray(x), jnp.asarray(CS)))) - np.log(TARGET)
        out[3] = np.nan  # a curve whose solves always fail
        return out

    x, residual, steps = solve_log_batch(log_ratio, np.full(4, 1.0), tol=1e-10, iterations=30)
    np.testing.assert_allclose(x[:3], [brentq_root(c) for c in CS[:3]], rtol=1e-9)
    assert np.all(residual[:3] < 1e-10) and residual[3] == np.inf
    assert steps == 30 and len(calls) == 32  # the failing curve keeps the loop going to the limit


@pytest.mark.parametrize("slope_guess", [-2.0, -0.5])
def test_solve_log_batch_converges_from_a_poor_start(slope_guess):
    log_ratio = lambda x: np.log(np.asarray(omega(jnp.asarray(x), 2.0))) - np.log(TARGET)
    x, residual, _ = solve_log_batch(log_ratio, np.array([1e-6, 1e6]), tol=1e-10, iterations=40,
                                     slope_guess=slope_guess)
    np.testing.assert_allclose(x, brentq_root(2.0), rtol=1e-9)
