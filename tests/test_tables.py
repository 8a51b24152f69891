"""Interpolation tables (bkdm.cosmo.tables) against the functions they tabulate: spectral accuracy of
the Chebyshev table, fourth-order convergence of the Hermite table with exact and with finite-
difference slopes, and jit/grad/vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bkdm.cosmo import tables


def f(u):
    return jnp.sin(2.0 * u) + 0.3 * jnp.exp(0.5 * u)  # smooth, not a polynomial


def max_error(table, lo=0.0, hi=3.0):
    u = np.linspace(lo, hi, 1001)
    return float(np.max(np.abs(np.asarray(jax.vmap(table)(jnp.asarray(u))) - np.asarray(f(u)))))


def test_chebyshev_table_is_spectrally_accurate():
    # entire function on [0, 3]: 24 Chebyshev nodes reach round-off (measured 2e-15); bound 1e-13
    assert max_error(tables.tabulate(f, 0.0, 3.0, 24)) < 1e-13


@pytest.mark.parametrize("slopes", ["jvp", "fd"])
def test_hermite_table_converges_at_fourth_order(slopes):
    # cubic Hermite interpolation: error ∝ h⁴ f⁗ (exact slopes: ≤ h⁴ max|f⁗|/384); fourth-order
    # finite-difference slopes keep the order (their O(h⁴ f⁽⁵⁾) slope error enters with a factor h).
    # Doubling n must cut the error by ~16: accept > 12 (the pre-asymptotic regime at n = 41).
    errors = [max_error(tables.tabulate_hermite(f, 0.0, 3.0, n, slopes=slopes)) for n in (41, 81, 161)]
    assert errors[0] / errors[1] > 12 and errors[1] / errors[2] > 12
    h = 3.0 / 160
    fourth = 16.0 + 0.3 / 16.0 * np.exp(1.5)  # max |f⁗| on [0, 3]
    assert errors[2] < 3.0 * h**4 * fourth / 384  # within 3× the exact-slope bound


def test_hermite_finite_difference_slopes_match_the_derivative():
    # interior: central 4th-order differences, error h⁴ f⁽⁵⁾/30; the two one-sided ends: h⁴ f⁽⁵⁾/5
    n = 61
    table = tables.tabulate_hermite(f, 0.0, 3.0, n, slopes="fd")
    u = np.linspace(0.0, 3.0, n)
    exact = np.asarray(jax.vmap(jax.grad(f))(jnp.asarray(u)))
    h = 3.0 / (n - 1)
    fifth = 32.0 + 0.3 / 32.0 * np.exp(1.5)
    assert np.max(np.abs(np.asarray(table.slopes) - exact)) < h**4 * fifth / 5


def test_bad_slopes_option():
    with pytest.raises(ValueError, match="slopes"):
        tables.tabulate_hermite(f, 0.0, 1.0, 8, slopes="spline")
    with pytest.raises(ValueError, match="n ≥ 5"):
        tables.tabulate_hermite(f, 0.0, 1.0, 4, slopes="fd")
    # fewer nodes than one evaluation chunk: the table still reproduces a cubic exactly (Hermite
    # with 4th-order slopes is exact for cubics), to round-off
    cubic = tables.tabulate_hermite(lambda u: u**3 - u, 0.0, 1.0, 6, slopes="fd")
    assert float(cubic(0.37)) == pytest.approx(0.37**3 - 0.37, rel=1e-12)


def test_tables_under_jit_grad_vmap():
    # a table built inside jit from a parameter is differentiable in that parameter: d/da of the
    # interpolant of a·f equals the interpolant of f (linearity of the table in the samples)
    def value(a, slopes):
        return tables.tabulate_hermite(lambda u: a * f(u), 0.0, 3.0, 81, slopes=slopes)(1.234)

    for slopes in ("jvp", "fd"):
        grad = float(jax.jit(jax.grad(value), static_argnums=1)(2.0, slopes))
        assert grad == pytest.approx(float(value(1.0, slopes)), rel=1e-12)
    batched = jax.vmap(lambda a: value(a, "fd"))(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(np.asarray(batched), [float(value(1.0, "fd")), float(value(2.0, "fd"))],
                               rtol=1e-12)
    cheb = jax.jit(jax.grad(lambda a: tables.tabulate(lambda u: a * f(u), 0.0, 3.0, 24)(1.234)))(2.0)
    assert float(cheb) == pytest.approx(float(f(1.234)), rel=1e-12)
