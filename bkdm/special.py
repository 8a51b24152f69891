"""Special functions with no JAX implementation: exponentially scaled modified Bessel functions.

``k0e(z) = K_0(z) e^z``, ``k1e(z) = K_1(z) e^z``, ``k2e(z) = K_2(z) e^z`` for real z > 0, accurate
to ≤ 1e-13 relative against ``scipy.special.kve`` on z ∈ [1e-4, 1e5] (tests/test_special.py).

Method
------
* z ≤ 2: the ascending series (Abramowitz & Stegun 9.6.10–9.6.13), 16 terms,
  K_0 = −(ln(z/2)+γ_E) I_0 + Σ_{k≥1} H_k (z²/4)^k/(k!)²,
  K_1 = 1/z + ln(z/2) I_1 − (z/4) Σ_{k≥0} [ψ(k+1)+ψ(k+2)] (z²/4)^k/(k!(k+1)!).
* z > 2: Chebyshev expansion of √z e^z K_ν(z) in t = 4/z − 1 ∈ (−1, 1] (26 terms; coefficients
  from ``tools/gen_bessel_coeffs.py``, mpmath at 50 digits).
* K_2 from the recurrence K_2 = K_0 + (2/z) K_1 (all terms positive: no cancellation).
* Evaluation: the four series and the Chebyshev expansions (converted to polynomials in t) by one
  Horner recurrence on a trailing axis, K_0 and K_1 together (:func:`k01e`, jitted): small traced
  programs that XLA fuses into one kernel per call site.

Derivatives are exact, by ``jax.custom_jvp`` and the recurrences
K_0' = −K_1, K_1' = −K_0 − K_1/z, so d(k0e)/dz = k0e − k1e, d(k1e)/dz = k1e − k0e − k1e/z.
Every branch is evaluated at a safe argument (``jnp.where``), so gradients are finite everywhere in
the domain. Use the scaled forms in ratios (K_1/K_2 = k1e/k2e) and in Boltzmann suppressed
quantities (x² K_2(x) = x² k2e(x) e^{−x}) to avoid the underflow of K_ν beyond z ≈ 700.
"""

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial import chebyshev

from bkdm.constants import EULER_GAMMA

_CHEB_K0E = (
    1.2201515410329777,
    -0.0314481013119645,
    0.0015698838857300533,
    -0.00012849549581627802,
    1.39498137188765e-05,
    -1.8317555227191195e-06,
    2.766813639445015e-07,
    -4.660489897687948e-08,
    8.574034017414225e-09,
    -1.6975345093890614e-09,
    3.577397281400328e-10,
    -7.957489244477381e-11,
    1.855949114954886e-11,
    -4.514597883373476e-12,
    1.1403405882046312e-12,
    -2.9800969230769603e-13,
    8.032890773181994e-14,
    -2.2275133217027853e-14,
    6.340076340113521e-15,
    -1.8485930065747476e-15,
    5.512045764739677e-16,
    -1.67820260641375e-16,
    5.2095879044094446e-17,
    -1.6452873742672072e-17,
    5.234187665831975e-18,
    -1.5392616400502645e-18,
)
_CHEB_K1E = (
    1.3603130952422213,
    0.10392373657681724,
    -0.002857816859622779,
    0.00019521551847135162,
    -1.936197974166083e-05,
    2.406484947837217e-06,
    -3.5019606030878126e-07,
    5.7410841254500495e-08,
    -1.0345762465678097e-08,
    2.0150497551970347e-09,
    -4.190354759341925e-10,
    9.218315187605298e-11,
    -2.1299678384277483e-11,
    5.139639673481238e-12,
    -1.2891739609469437e-12,
    3.348419665976578e-13,
    -8.976705180003592e-14,
    2.477154418848081e-14,
    -7.0198369440056604e-15,
    2.0387027696753716e-15,
    -6.057036324985763e-16,
    1.8380630276636901e-16,
    -5.688600400987335e-17,
    1.7915864727446217e-17,
    -5.685417352989891e-18,
    1.6686739374640153e-18,
)


_N_SERIES = 16
_k = np.arange(_N_SERIES)
_fact = np.array([float(np.prod(np.arange(1, k + 1))) for k in range(_N_SERIES + 1)])
_harm = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, _N_SERIES + 1))])  # H_0..H_N
# Coefficients in u = z²/4 (lowest order first)
_C_I0 = 1.0 / _fact[:_N_SERIES] ** 2
_C_I1 = 1.0 / (_fact[:_N_SERIES] * _fact[1 : _N_SERIES + 1])
_C_K0 = _harm[:_N_SERIES] / _fact[:_N_SERIES] ** 2
_PSI = -EULER_GAMMA + _harm  # ψ(k+1) = −γ + H_k
_C_K1 = (_PSI[:_N_SERIES] + _PSI[1 : _N_SERIES + 1]) / (_fact[:_N_SERIES] * _fact[1 : _N_SERIES + 1])

_Z_SWITCH = 2.0


# Both expansions as one Horner recurrence on a trailing axis of six polynomials (lowest order first):
# the I0, I1/(z/2), K0 and K1 series in u = z²/4 (16 terms, zero-padded) and √z e^z K_ν(z) (ν = 0, 1) as
# polynomials in t = 4/z − 1 (the Chebyshev expansions converted to monomials: well conditioned on
# |t| ≤ 1, Σ|a_j| ≤ 1.25 and 1.47 against values ≥ 1.2 and 1.36). 26 steps of one multiply-add on
# (…, 6) arrays: ~60 array operations per evaluation instead of ~300, all elementwise, so that XLA
# fuses them into one kernel (benchmarks/compile_time.py).
_N_LARGE = len(_CHEB_K0E)
_COEFFS = np.zeros((_N_LARGE, 6))
_COEFFS[:_N_SERIES, :4] = np.stack([_C_I0, _C_I1, _C_K0, _C_K1], axis=1)
_COEFFS[:, 4:] = np.stack([chebyshev.cheb2poly(_CHEB_K0E), chebyshev.cheb2poly(_CHEB_K1E)], axis=1)
_IS_SERIES = np.array([True, True, True, True, False, False])


def _scaled_k0_k1(z):
    """(K_0 e^z, K_1 e^z) for z > 0, both branches evaluated at safe arguments."""
    z = jnp.asarray(z, dtype=jnp.float64)
    small = z <= _Z_SWITCH
    zs = jnp.where(small, z, 1.0)
    zl = jnp.where(small, 4.0, z)
    u = 0.25 * zs * zs  # z ≤ 2: ascending series in u
    t = 4.0 / zl - 1.0  # z > 2: expansion in t
    x = jnp.where(_IS_SERIES, u[..., None], t[..., None])
    acc = jnp.zeros_like(x) + _COEFFS[-1]
    for c in _COEFFS[-2::-1]:
        acc = acc * x + c
    i0, i1, s0, s1, c0, c1 = (acc[..., i] for i in range(6))
    logh = jnp.log(0.5 * zs)
    ez = jnp.exp(zs)
    k0s = (-(logh + EULER_GAMMA) * i0 + s0) * ez
    k1s = (1.0 / zs + logh * 0.5 * zs * i1 - 0.25 * zs * s1) * ez
    rs = jax.lax.rsqrt(zl)
    return jnp.where(small, k0s, c0 * rs), jnp.where(small, k1s, c1 * rs)


@jax.custom_jvp
@jax.jit
def k01e(z):
    """(K_0(z)·e^z, K_1(z)·e^z), z > 0 (real): both exponentially scaled Bessel functions from one
    evaluation. Jitted, so that its many call sites in the rate integrals trace it once per shape."""
    return _scaled_k0_k1(z)


@k01e.defjvp
def _k01e_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    a, b = k01e(z)
    return (a, b), ((a - b) * dz, (b - a - b / z) * dz)


def k0e(z):
    """Exponentially scaled modified Bessel function K_0(z)·e^z, z > 0 (real)."""
    return k01e(z)[0]


def k1e(z):
    """Exponentially scaled modified Bessel function K_1(z)·e^z, z > 0 (real)."""
    return k01e(z)[1]


def k2e(z):
    """Exponentially scaled modified Bessel function K_2(z)·e^z = k0e(z) + (2/z) k1e(z), z > 0."""
    a, b = k01e(z)
    return a + 2.0 * b / z


def bessel_k1_over_k2(z):
    """Ratio K_1(z)/K_2(z) (time-dilation factor of ⟨Γ⟩, docs/physics/alp-freeze-in.md §3.3 [C] (24));
    no underflow."""
    a, b = k01e(z)
    return b / (a + 2.0 * b / z)
