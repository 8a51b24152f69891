"""k0e/k1e/k2e against scipy.special.kve (independent implementation, Cephes/AMOS)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sp
from transforms import check_transforms

from bkdm.kinematics import kallen, safe_sqrt, two_body_momentum
from bkdm.special import bessel_k1_over_k2, k0e, k1e, k2e

Z = np.logspace(-4, 5, 20001)


@pytest.mark.parametrize("n,f", [(0, k0e), (1, k1e), (2, k2e)])
def test_bessel_values_vs_scipy(n, f):
    # Issue 2: relative accuracy ≤ 1e-12 on [1e-4, 1e5]. scipy's kve is itself good to ~1e-15,
    # our series/Chebyshev construction to ~5e-15 (mpmath fit); 1e-12 leaves ample margin.
    rel = np.asarray(jax.jit(f)(Z)) / sp.kve(n, Z) - 1.0
    assert np.max(np.abs(rel)) < 1e-12


@pytest.mark.parametrize("n,f", [(0, k0e), (1, k1e), (2, k2e)])
def test_bessel_derivatives_vs_scipy(n, f):
    # d/dz [K_n e^z] = K_n e^z + K_n' e^z with scipy's kvp for K_n' (independent of our jvp rule)
    z = np.logspace(-4, 5, 2001)
    d = np.asarray(jax.vmap(jax.grad(f))(jnp.asarray(z)))
    with np.errstate(over="ignore", invalid="ignore"):
        ref = sp.kve(n, z) + sp.kvp(n, z) * np.exp(np.minimum(z, 300.0))
    ok = z < 300  # unscaled kvp loses precision to denormals beyond ~600: use the recurrences there
    np.testing.assert_allclose(d[ok], ref[ok], rtol=1e-11)
    # large z: K_0' = -K_1, K_1' = -K_0 - K_1/z, K_2' = -K_1 - 2 K_2/z
    zl = z[~ok]
    k0, k1, k2 = sp.kve(0, zl), sp.kve(1, zl), sp.kve(2, zl)
    dk = {0: -k1, 1: -k0 - k1 / zl, 2: -k1 - 2 * k2 / zl}[n]
    np.testing.assert_allclose(d[~ok], sp.kve(n, zl) + dk, rtol=1e-9, atol=1e-300)


def test_bessel_second_derivative_finite_and_correct():
    # Bessel ODE: z² K'' + z K' − (z² + 1) K = 0 for K_1; check with unscaled K = k1e e^{-z}
    for z in [1e-3, 0.5, 2.0, 2.0000001, 30.0, 500.0]:
        K = lambda t: k1e(t) * jnp.exp(-t)
        k, d1, d2 = K(z), jax.grad(K)(z), jax.grad(jax.grad(K))(z)
        res = z * z * d2 + z * d1 - (z * z + 1) * k
        assert abs(float(res)) <= 1e-10 * float(z * z * abs(d2) + (z * z + 1) * k)


def test_bessel_transforms_and_no_nan_gradients():
    for z in [1e-4, 0.3, 1.999, 2.0, 2.001, 7.0, 1e3, 1e5]:
        check_transforms(k1e, z)
        check_transforms(k2e, z)
    g = jax.vmap(jax.grad(k2e))(jnp.asarray(Z))
    assert np.all(np.isfinite(np.asarray(g)))


def test_bessel_ratio_limits():
    # K1/K2 → z/2 for z → 0 and → 1 − 3/(2z) for z → ∞ (asymptotic expansion)
    assert abs(float(bessel_k1_over_k2(1e-4)) / 0.5e-4 - 1) < 1e-6
    z = 1e5
    assert abs(float(bessel_k1_over_k2(z)) - (1 - 1.5 / z + 15 / (8 * z * z))) < 1e-12


def test_kallen_and_momentum():
    assert float(kallen(1.0, 0.0, 0.0)) == 1.0
    # symmetric in its arguments
    a, b, c = 5.3, 0.24, 4.1
    assert np.isclose(float(kallen(a, b, c)), float(kallen(c, a, b)))
    # two-body momentum: B -> K a at m_a = 2 GeV (docs/physics/alp.md §2.5: beta*gamma = 1.115)
    p = float(two_body_momentum(5.27941, 0.493677, 2.0))
    assert abs(p / 2.0 - 1.115) < 1e-3
    # closed channel: exactly zero with finite gradient
    assert float(two_body_momentum(1.0, 0.6, 0.6)) == 0.0
    g = jax.grad(lambda m: two_body_momentum(1.0, m, 0.6))(0.6)
    assert np.isfinite(float(g))
    assert float(jax.grad(safe_sqrt)(-1.0)) == 0.0
