"""Thermodynamics of the SM plasma and equilibrium abundances (docs/physics/alp-freeze-in.md §3.4, §3.6–3.8,
docs/physics/resonant-alp.md §5.4, §5.6).

Units: GeV (natural units ħ = c = k_B = 1); number densities in GeV³, rates in GeV.

* ``g_star``, ``g_star_s``: Wantz–Shellard fit (arXiv:0910.1066 App. A;
  docs/physics/alp-freeze-in.md §3.8) of the energy and entropy degrees of freedom, g(T)
  = exp[a₀ + Σᵢ aᵢ (1 + tanh((ln T − bᵢ)/cᵢ))], T in GeV.
* ``hubble_rate`` (reduced Planck mass, [C] (26)), ``entropy_density``, ``hubble_tilde`` ([D] (4.10)).
* Maxwell–Boltzmann equilibrium: ``number_density_eq``, ``yield_eq``, ``log_yield_eq`` ([C] (29),
  [D] (4.14)), written with x²K₂(x) = x² k2e(x) e^{−x} so that log Y_eq is exact and finite for
  m/T up to 10⁴ and beyond (Y_eq itself underflows to 0 beyond m/T ≈ 700, as it must in float64),
  and the massless limit x²K₂(x) → 2 is taken analytically.
* ``y_eq`` ([D] (4.7)) and ``omega_h2`` ([C] (30)).

All functions are pure JAX (jit/grad/vmap-safe) and broadcast over array arguments.
"""

import math

import jax.numpy as jnp
import numpy as np

from bkdm._validation import check_nonnegative, check_positive
from bkdm.constants import M_PLANCK_REDUCED, OMEGA_H2_PER_MY
from bkdm.special import k2e

# Wantz & Shellard, arXiv:0910.1066 App. A (docs/physics/alp-freeze-in.md §3.8): (a₀, aᵢ, bᵢ, cᵢ)
_WS_ENERGY = (
    1.21,
    np.array([0.572, 0.330, 0.579, 0.138, 0.108]),
    np.array([-8.77, -2.95, -1.80, -0.162, 3.76]),
    np.array([0.682, 1.01, 0.165, 0.934, 0.869]),
)
_WS_ENTROPY = (
    1.36,
    np.array([0.498, 0.327, 0.579, 0.140, 0.109]),
    np.array([-8.74, -2.89, -1.79, -0.102, 3.82]),
    np.array([0.693, 1.01, 0.155, 0.963, 0.907]),
)

_X_SMALL = 1e-4  # below: x²K₂(x) = 2 − x²/2 + O(x⁴ ln x) (error < 1e-15)


def _ws_tanh(T, coeffs):
    """The five tanh((ln T − bᵢ)/cᵢ) of the Wantz–Shellard fit, on a trailing axis (one vector op)."""
    _, _, b, c = coeffs
    t = jnp.log(jnp.asarray(T, dtype=jnp.float64))[..., None]
    return jnp.tanh((t - b) / c)


def _ws_log_g(T, coeffs):
    """ln g(T) = a₀ + Σᵢ aᵢ (1 + tanh((ln T − bᵢ)/cᵢ)) of the Wantz–Shellard fit
    (docs/physics/alp-freeze-in.md §3.8). The sum over the five terms is unrolled (a reduction over a trailing
    axis of length 5 is slow on CPU under vmap; one vector tanh keeps the unbatched,
    scalar evaluation to a few ops)."""
    a0, a, _, _ = coeffs
    th = _ws_tanh(T, coeffs)
    out = a0 + float(np.sum(a))
    for i, ai in enumerate(a):
        out = out + float(ai) * th[..., i]
    return out


def log_g_star(T):
    """ln g_*(T), Wantz–Shellard fit (docs/physics/alp-freeze-in.md §3.8); T in GeV."""
    return _ws_log_g(T, _WS_ENERGY)


def log_g_star_s(T):
    """ln g_*s(T), Wantz–Shellard fit (docs/physics/alp-freeze-in.md §3.8); T in GeV."""
    return _ws_log_g(T, _WS_ENTROPY)


def g_star(T):
    """Energy degrees of freedom g_*(T), Wantz–Shellard fit (docs/physics/alp-freeze-in.md §3.8); T in GeV."""
    return jnp.exp(log_g_star(T))


def g_star_s(T):
    """Entropy degrees of freedom g_*s(T), Wantz–Shellard fit
    (docs/physics/alp-freeze-in.md §3.8); T in GeV."""
    return jnp.exp(log_g_star_s(T))


def dln_g_star_s_dln_T(T):
    """d ln g_*s / d ln T = Σᵢ (aᵢ/cᵢ) sech²((ln T − bᵢ)/cᵢ) (analytic,
    docs/physics/alp-freeze-in.md §3.8); T in GeV.

    Written with sech² = 1 − tanh² of the tanh values of ``log_g_star_s`` (XLA shares them)."""
    _, a, _, c = _WS_ENTROPY
    th = _ws_tanh(T, _WS_ENTROPY)
    out = 0.0
    for i, (ai, ci) in enumerate(zip(a, c, strict=True)):
        out = out + float(ai / ci) * (1.0 - th[..., i] * th[..., i])
    return out


def _log_hubble_rate(T):
    """ln H(T), H = √(π² g_*(T)/90) T²/M_Pl (docs/physics/alp-freeze-in.md §3.4, [C] (26))."""
    return (0.5 * math.log(math.pi**2 / 90.0) - math.log(M_PLANCK_REDUCED) + 0.5 * log_g_star(T)
            + 2.0 * jnp.log(T))


def hubble_rate(T):
    """H(T) = √(π² g_*(T)/90) T²/M_Pl [GeV], reduced M_Pl = 2.435e18 GeV
    (docs/physics/alp-freeze-in.md §3.4, [C] (26))."""
    return jnp.exp(_log_hubble_rate(T))


def entropy_density(T):
    """s(T) = (2π²/45) g_*s(T) T³ [GeV³] (docs/physics/alp-freeze-in.md §3.4, [C] (26))."""
    return 2.0 * math.pi**2 / 45.0 * g_star_s(T) * T**3


def hubble_tilde(T):
    """H̃ = H / [1 + (1/3) d ln g_*s/d ln T] [GeV], so that dx/dt = x H̃ for x ∝ 1/T
    (docs/physics/alp-freeze-in.md §3.4, [D] (4.10))."""
    return hubble_rate(T) / (1.0 + dln_g_star_s_dln_T(T) / 3.0)


def log_entropy_density(T):
    """ln s(T) = ln[(2π²/45) g_*s T³] (docs/physics/alp-freeze-in.md §3.4); T in GeV, s in GeV³."""
    return math.log(2.0 * math.pi**2 / 45.0) + log_g_star_s(T) + 3.0 * jnp.log(T)


def log_hubble_tilde(T):
    """ln H̃(T) = ln H − ln[1 + (1/3) d ln g_*s/d ln T] (docs/physics/alp-freeze-in.md §3.4, [D] (4.10));
    T in GeV, H̃ in GeV."""
    return _log_hubble_rate(T) - jnp.log1p(dln_g_star_s_dln_T(T) / 3.0)


def _log_x2_k2(x):
    """ln[x² K₂(x)] for x ≥ 0 without underflow: ln(x² k2e(x)) − x; massless limit ln 2 (x → 0)."""
    x = jnp.asarray(x, dtype=jnp.float64)
    small = x < _X_SMALL
    xs = jnp.where(small, 1.0, x)
    return jnp.where(small, jnp.log(2.0 - 0.5 * x * x), jnp.log(xs * xs * k2e(xs)) - xs)


def number_density_eq(m, g, T):
    """Maxwell–Boltzmann n_eq = g m² T K₂(m/T)/(2π²) [GeV³] (docs/physics/resonant-alp.md §5.4, [D] (4.14));
    m ≥ 0, T > 0 in GeV.

    m = 0 gives the massless limit g T³/π².
    """
    check_nonnegative("m", m, "GeV")
    check_positive("T", T, "GeV")
    return g * T**3 / (2.0 * math.pi**2) * jnp.exp(_log_x2_k2(m / T))


def log_yield_eq(m, g, T):
    """ln Y_eq, Y_eq = (45/(4π⁴)) (g/g_*s(T)) (m/T)² K₂(m/T) (docs/physics/alp-freeze-in.md §3.6, [C] (29));
    m ≥ 0, T > 0 in GeV.

    Finite for any m/T (no underflow); m = 0 gives ln[45 g/(2π⁴ g_*s)].
    """
    check_nonnegative("m", m, "GeV")
    check_positive("T", T, "GeV")
    return jnp.log(45.0 * g / (4.0 * math.pi**4)) - log_g_star_s(T) + _log_x2_k2(m / T)


def yield_eq(m, g, T):
    """Y_eq = n_eq/s = (45/(4π⁴)) (g/g_*s) (m/T)² K₂(m/T) (docs/physics/alp-freeze-in.md §3.6, [C] (29));
    m ≥ 0, T > 0 in GeV."""
    return jnp.exp(log_yield_eq(m, g, T))


def y_eq(m, T):
    """y_eq = m T / s(T)^{2/3} (dimensionless; [D] (4.7), docs/physics/resonant-alp.md §5.4); m, T in GeV."""
    return m * T / entropy_density(T) ** (2.0 / 3.0)


def omega_h2(m, Y):
    """Ω h² = 2.7439e8 (m/GeV) Y_∞ (docs/physics/constants.md §1.3, docs/physics/alp-freeze-in.md §3.7,
    [C] (30)); Y counts every DM state (χ + χ̄)."""
    return OMEGA_H2_PER_MY * m * Y
