"""Thermal averages for the Boltzmann equations (docs/physics/alp-freeze-in.md §3.3,
docs/physics/resonant-alp.md §5.4, §5.5). Units: GeV.

Everything here is pure JAX and safe under ``jit``/``grad``/``vmap``. Cross sections are passed in as
JAX callables (closures over model parameters, which may be tracers); they are evaluated once on a
vector of quadrature nodes, so they must act elementwise on arrays. Masses and temperatures may be
arrays (they broadcast; the quadrature nodes live on a trailing axis).

Public functions
----------------
* ``decay_average``           ⟨Γ⟩ = Γ K₁(m/T)/K₂(m/T)                                 ([C] (24))
* ``scattering_rate_density`` n₁ᵉᑫ n₂ᵉᑫ ⟨σv⟩ for 12 → 34                            ([C] (25))
* ``log_scattering_rate_density``  its logarithm, without underflow at T ≪ m
* ``scattering_sigma_v``      ⟨σv⟩ of [C] (25) (= rate density / n₁ᵉᑫ n₂ᵉᑫ, no underflow)
* ``sigma_v_gg``              Gondolo–Gelmini ⟨σv⟩ of an annihilation, resonance-aware   ([D] (4.12))
* ``sigma_v_2``               ⟨σv⟩₂, the p²/(3E) moment of the annihilation term        ([D] (4.13))
* ``sigma_v_nwa``             narrow-width ⟨σv⟩ of an s-channel resonance (docs/physics/resonant-alp.md §5.5)
* ``momentum_transfer_rate``  γ(T) of the Fokker–Planck elastic term, 1-D form          ([D] (4.5))
* ``thermal_moment``, ``w_factor``, ``elastic_a_factor``  moments of f ∝ e^{−E/T}
  (docs/physics/resonant-alp.md §5.4)

Quadrature of the annihilation averages (``sigma_v_gg``, ``sigma_v_2``)
---------------------------------------------------------------------
With s = 4m²(1+ε) and x = m/T, GG reads ⟨σv⟩ = 2x/K₂(x)² ∫dε σv_lab(ε) √ε (1+2ε) K₁(2x√(1+ε)).
We integrate in v = √w, w = 2x(√(1+ε) − 1) = √s/T − 2x, so that the Boltzmann factor of the scaled
Bessel functions is exactly K₁(2x√(1+ε))/K₂(x)² = k1e(2x+v²)/k2e(x)² · e^{−v²} (no cancellation,
no underflow), and the threshold is regular (√ε dε ∝ v² dv). ε(v) = v²/x + v⁴/(4x²).

Without a resonance: Gauss–Legendre on v ∈ [0, √42] (e^{−42} ≈ 6e-19).

With an s-channel resonance (mass m_R, width Γ_R): ε_R = m_R²/(4m²) − 1, δ_R = m_RΓ_R/(4m²)
(docs/physics/resonant-alp.md §5.5). The Breit–Wigner poles ε = ε_R ± iδ_R sit at v = ±ρ, ρ = √w(ε_R + iδ_R)
= v_R + iγ_R (v_R ≥ 0 also for resonances at or below threshold, where v_R → 0 and γ_R is the scale of the
pole near v = 0). The v axis is cut into seven Gauss–Legendre pieces of ``nodes`` nodes each
(docs/physics/numerics.md §10.5):
  core    |v − v_R| ≤ h,                  v = v_R + γ_R tan θ (flattens the Lorentzian exactly),
  tails   h ≤ |v − v_R| ≤ D/10 (two),     |v − v_R| = h (D/10h)^τ (log map: the 1/(v−v_R)² tails
                                          become smooth exponentials in τ, up to ~30 e-folds),
          D/10 ≤ |v − v_R| ≤ D (two),     linear (smooth background, onset of the thermal cut-off),
  left    0 ≤ v ≤ min(v_R − D, √42),      linear (thermal bulk),
  right   v_R + D ≤ v ≤ √((v_R+D)² + 42), linear,
with h = min(5γ_R, 0.3 D), D = 2/(1 + 2v_R) (two local thermal lengths of e^{−v²}), the left pieces
clipped at v = 0. Pieces of zero length contribute exactly 0, so resonances below threshold, at
threshold, broad or 1e-12 narrow all use the same code path. When v_R − D > √42 the stretch between
the bulk and the left tail is dropped: the integrand there is below e^{−42} times its value at one of
the two neighbouring pieces. Because ε itself cannot resolve a peak of relative width 1e-12 in
float64, the integrator passes σv_lab the offset ε − ε_R computed without cancellation,
ε − ε_R = Re[(v − ρ)(v + ρ)(1/x + (v² + ρ²)/(4x²))]; use it for s − m_R² = 4m²(ε − ε_R).

Node counts, measured against adaptive scipy quadrature for x ∈ [1, 1e4], Γ_R/m_R ∈ [1e-12, 0.1],
m_R/(2m) ∈ [0.5, 1.5] and five shapes (s- and p-wave Breit–Wigner, energy-dependent width, Breit–
Wigner on a large smooth background, a constant): 7·nodes evaluations; nodes = 12 → 1e-5,
16 (default, 112 evaluations) → 1.3e-7 (3e-8 for the pure Breit–Wigner shapes), 20 → 3e-9.
For 0.1 ≤ x < 1 the error grows to ~1e-6.
"""

import functools
import math

import jax
import jax.numpy as jnp
from numpy.polynomial.legendre import leggauss
from scipy.special import roots_genlaguerre

from bkdm._validation import check_choice, check_nonnegative, check_positive
from bkdm.cosmo.thermo import _log_x2_k2
from bkdm.kinematics import safe_sqrt
from bkdm.special import k1e, k2e

# --- quadrature constants --------------------------------------------------------------------
_W_CUT = 42.0  # Boltzmann cut e^{-42} ≈ 6e-19 of the thermal exponent w = v²
_V_LEFT = math.sqrt(_W_CUT)  # upper end of the thermal bulk piece
_RES_K = 5.0  # core half-width in units of the pole's imaginary part γ_R
_RES_CORE_FRACTION = 0.3  # ... but at most this fraction of the tail reach D
_RES_REACH = 2.0  # D = _RES_REACH / (1 + 2 v_R): local thermal lengths covered by the tails
_TAIL_SPLIT = 0.1  # each tail: log map out to 0.1 D, linear beyond
_PLAIN_NODES = 24  # non-resonant GG: Gauss–Legendre nodes on v ∈ [0, √42]
_INNER_NODES = 16  # ⟨σv⟩₂ inner integral (generalised Gauss–Laguerre, α = −1/2)


@functools.cache
def _gauss_legendre_01(n):
    """Gauss–Legendre nodes/weights on [0, 1]."""
    t, w = leggauss(n)
    return 0.5 * (t + 1.0), 0.5 * w


@functools.cache
def _gauss_laguerre(n, alpha):
    """Generalised Gauss–Laguerre nodes/weights for ∫₀^∞ t^α e^{−t} f(t) dt."""
    return roots_genlaguerre(n, alpha)


def decay_average(width, m, T):
    """Thermally averaged decay rate ⟨Γ⟩ = Γ K₁(m/T)/K₂(m/T)
    [GeV] (docs/physics/alp-freeze-in.md §3.3, [C] (24)).

    width [GeV] (rest-frame width), m ≥ 0, T > 0 [GeV]; exact 0 for m = 0 (K₁/K₂ → x/2).
    """
    check_nonnegative("m", m, "GeV")
    check_positive("T", T, "GeV")
    x = jnp.asarray(m / T, dtype=jnp.float64)
    small = x < 1e-6
    xs = jnp.where(small, 1.0, x)
    return width * jnp.where(small, 0.5 * x, k1e(xs) / k2e(xs))


# --- 2 → 2 production rates ([C] (25)) --------------------------------------------------------


def _scattering_integral(sigma_fn, m1, m2, T, s_threshold, nodes):
    """(z₀, I) with n₁n₂⟨σv⟩ = g₁g₂T²/(16π⁴) e^{−z₀} I, z₀ = √s₀/T
    (docs/physics/alp-freeze-in.md §3.3, [C] (25)).

    ∫ds σλK₁(√s/T)/√s = 2T∫dz σλK₁(z) = 2T e^{−z₀} I, I = ∫dz σλ k1e(z) e^{−(z−z₀)}, integrated in
    z = z₀ + t², t ∈ [0, √42] (Gauss–Legendre): √(s − s₀) threshold behaviour of σ and λ is smooth in t.
    """
    m1 = jnp.asarray(m1, dtype=jnp.float64)[..., None]
    m2 = jnp.asarray(m2, dtype=jnp.float64)[..., None]
    T = jnp.asarray(T, dtype=jnp.float64)[..., None]
    s_threshold = jnp.asarray(s_threshold, dtype=jnp.float64)[..., None]
    u, w = _gauss_legendre_01(nodes)
    t = math.sqrt(_W_CUT) * u
    sum_over_t = (m1 + m2) / T
    z0 = jnp.maximum(sum_over_t, safe_sqrt(s_threshold) / T)
    z = z0 + t * t
    # λ(s, m₁², m₂²) = (s − (m₁+m₂)²)(s − (m₁−m₂)²), first factor without cancellation
    lam = T**4 * ((z0 - sum_over_t) + t * t) * (z + sum_over_t) * (z * z - ((m1 - m2) / T) ** 2)
    f = 2.0 * t * jnp.exp(-t * t) * sigma_fn((T * z) ** 2) * lam * k1e(z)
    return z0[..., 0], math.sqrt(_W_CUT) * jnp.sum(w * f, axis=-1)


def scattering_rate_density(sigma_fn, m1, m2, g1, g2, T, s_threshold=0.0, nodes=32):
    """n₁ᵉᑫ n₂ᵉᑫ ⟨σv⟩₁₂→₃₄ = g₁g₂T/(32π⁴) ∫ds σ(s) λ(s,m₁²,m₂²) K₁(√s/T)/√s
    [GeV⁴] (docs/physics/alp-freeze-in.md §3.3, [C] (25)).

    Maxwell–Boltzmann statistics. ``sigma_fn(s)``: initial-state-averaged cross section [GeV⁻²] of s
    [GeV²] (elementwise). Integration from s₀ = max((m₁+m₂)², s_threshold); pass σ's own threshold
    (e.g. (m_q+m_a)² for qg → qa) as ``s_threshold`` so that σ is never evaluated below it.
    m₁, m₂ ≥ 0 (massless initial states allowed), T > 0 [GeV]; g₁, g₂ internal d.o.f.
    ``nodes`` Gauss–Legendre nodes (32: ≤ 1e-7 relative for the cross sections of
    docs/physics/alp-freeze-in.md §3.2, worst at T ≫ m_q where ln(s/m_q²) varies near threshold; 48: ≤ 1e-9).
    """
    check_nonnegative("m1", m1, "GeV")
    check_nonnegative("m2", m2, "GeV")
    check_positive("T", T, "GeV")
    z0, integral = _scattering_integral(sigma_fn, m1, m2, T, s_threshold, nodes)
    return g1 * g2 * T**2 / (16.0 * math.pi**4) * jnp.exp(-z0) * integral


def log_scattering_rate_density(sigma_fn, m1, m2, g1, g2, T, s_threshold=0.0, nodes=32):
    """ln(n₁ᵉᑫ n₂ᵉᑫ ⟨σv⟩) of :func:`scattering_rate_density` [ln GeV⁴], without underflow at T ≪ m.

    Returns −inf (not NaN) where the integral vanishes (zero coupling); callers floor it if needed.
    """
    check_nonnegative("m1", m1, "GeV")
    check_nonnegative("m2", m2, "GeV")
    check_positive("T", T, "GeV")
    z0, integral = _scattering_integral(sigma_fn, m1, m2, T, s_threshold, nodes)
    return jnp.log(g1 * g2 * T**2 / (16.0 * math.pi**4)) - z0 + jnp.log(integral)


def scattering_sigma_v(sigma_fn, m1, m2, T, s_threshold=0.0, nodes=32):
    """⟨σv⟩₁₂→₃₄ of [C] (25) [GeV⁻²] = rate density / (n₁ᵉᑫn₂ᵉᑫ) (docs/physics/alp-freeze-in.md §3.3),
    without underflow.

    Same arguments as :func:`scattering_rate_density`; m²K₂(m/T) → 2T² for massless states.
    """
    check_nonnegative("m1", m1, "GeV")
    check_nonnegative("m2", m2, "GeV")
    check_positive("T", T, "GeV")
    z0, integral = _scattering_integral(sigma_fn, m1, m2, T, s_threshold, nodes)
    log_norm = _log_x2_k2(m1 / T) + _log_x2_k2(m2 / T)
    return integral * jnp.exp(-z0 - log_norm) / (4.0 * T**4)


# --- annihilation averages ([D] (4.12), (4.13)) ----------------------------------------------


def _resonance_pole(x, eps_r, delta_r):
    """ρ = √w(ε_R + iδ_R) with w(ε) = 2x(√(1+ε) − 1) = 2xε/(√(1+ε) + 1): the pole in v (Re, Im ≥ 0)."""
    e = eps_r + 1j * delta_r
    return jnp.sqrt(2.0 * x * e / (jnp.sqrt(1.0 + e) + 1.0))


def _resonant_nodes(x, eps_r, delta_r, nodes):
    """Nodes v, offsets v − v_R, weights (dv) of the seven-piece rule, and the pole ρ (module doc)."""
    rho = _resonance_pole(x, eps_r, delta_r)
    v_r = jnp.real(rho)
    gam = jnp.maximum(jnp.imag(rho), 1e-300)
    reach = _RES_REACH / (1.0 + 2.0 * v_r)
    reach_left = jnp.maximum(jnp.minimum(reach, v_r), 1e-300)
    h_left = jnp.minimum(_RES_K * gam, _RES_CORE_FRACTION * reach_left)
    h_right = jnp.minimum(_RES_K * gam, _RES_CORE_FRACTION * reach)
    s, w = _gauss_legendre_01(nodes)
    offsets, weights = [], []
    # core: v = v_R + γ tan θ
    th0, th1 = -jnp.arctan(h_left / gam), jnp.arctan(h_right / gam)
    th = th0 + (th1 - th0) * s
    offsets.append(gam * jnp.tan(th))
    weights.append(w * (th1 - th0) * gam / jnp.cos(th) ** 2)
    # tails: log map |v − v_R| = h (m/h)^τ out to m = _TAIL_SPLIT·D (Breit–Wigner tails), then linear
    # from m to D (a smooth background and the onset of the thermal cut-off)
    for h, d, sign in ((h_left, reach_left, -1.0), (h_right, reach, 1.0)):
        mid = jnp.maximum(_TAIL_SPLIT * d, h)
        a = jnp.log(mid / h)
        u = h * jnp.exp(a * s)
        offsets.append(sign * u)
        weights.append(w * a * u)
        offsets.append(sign * (mid + (d - mid) * s))
        weights.append(w * (d - mid))
    # left remainder (thermal bulk) and right remainder
    b = jnp.clip(v_r - reach_left, 0.0, _V_LEFT)
    offsets.append(b * s - v_r)
    weights.append(w * b)
    v_b = v_r + reach
    v_e = jnp.sqrt(v_b * v_b + _W_CUT)
    offsets.append(v_b - v_r + (v_e - v_b) * s)
    weights.append(w * (v_e - v_b))
    offsets = jnp.concatenate(offsets, axis=-1)
    return v_r + offsets, offsets, jnp.concatenate(weights, axis=-1), rho


@functools.partial(jax.jit, static_argnames="nodes")
def _annihilation_geometry(m, T, m_r, width_r, nodes):
    """Nodes of the GG-type ε integrals: (x, v², ε, measure, ε − ε_R or None); m_r = None: no resonance.

    measure = weight · dε/dv · √ε (1+2ε) e^{−v²}, so that ∫dε σv_lab √ε(1+2ε)K₁(2x√(1+ε))/K₂(x)²
    = Σ measure · σv_lab · k1e(2x+v²)/k2e(x)². (Jitted so that eager calls cost one dispatch.)
    """
    m = jnp.asarray(m, dtype=jnp.float64)[..., None]
    x = m / jnp.asarray(T, dtype=jnp.float64)[..., None]
    if m_r is None:
        s, w = _gauss_legendre_01(_PLAIN_NODES)
        v = _V_LEFT * s + 0.0 * x
        weight = _V_LEFT * w
    else:
        m_r = jnp.asarray(m_r, dtype=jnp.float64)[..., None]
        width_r = jnp.asarray(width_r, dtype=jnp.float64)[..., None]
        four_m2 = 4.0 * m * m
        # docs/physics/resonant-alp.md §5.5, no cancellation near 2m
        eps_r = (m_r - 2.0 * m) * (m_r + 2.0 * m) / four_m2
        delta_r = m_r * width_r / four_m2
        v, dv, weight, rho = _resonant_nodes(x, eps_r, delta_r, nodes)
    v2 = v * v
    eps = v2 / x * (1.0 + v2 / (4.0 * x))
    deps_dv = 2.0 * v / x * (1.0 + v2 / (2.0 * x))
    sqrt_eps = v / jnp.sqrt(x) * jnp.sqrt(1.0 + v2 / (4.0 * x))
    measure = weight * deps_dv * sqrt_eps * (1.0 + 2.0 * eps) * jnp.exp(-v2)
    d_eps = None
    if m_r is not None:
        d_eps = jnp.real((dv - 1j * jnp.imag(rho)) * (v + rho) * (1.0 / x + (v2 + rho * rho) / (4.0 * x * x)))
    return x, v2, eps, measure, d_eps


def _sigma_v_lab_at_nodes(sigma_v_lab_fn, m, T, resonance, nodes):
    """Validate, build the nodes and evaluate σv_lab there: (x, v², ε, measure, σv_lab values)."""
    check_positive("m", m, "GeV")
    check_positive("T", T, "GeV")
    if resonance is None:
        x, v2, eps, measure, _ = _annihilation_geometry(m, T, None, None, nodes=nodes)
        return x, v2, eps, measure, sigma_v_lab_fn(eps)
    m_r, width_r = resonance
    check_positive("resonance mass", m_r, "GeV")
    check_positive("resonance width", width_r, "GeV")
    x, v2, eps, measure, d_eps = _annihilation_geometry(m, T, m_r, width_r, nodes=nodes)
    return x, v2, eps, measure, sigma_v_lab_fn(eps, d_eps)


@jax.jit
def _gg_sum(x, v2, measure, values):
    """2x/k2e(x)² Σ measure · σv_lab · k1e(2x + v²) (GG, docs/physics/resonant-alp.md §5.5)."""
    return (2.0 * x[..., 0] / k2e(x[..., 0]) ** 2) * jnp.sum(measure * values * k1e(2.0 * x + v2), axis=-1)


def sigma_v_gg(sigma_v_lab_fn, m, T, resonance=None, nodes=16):
    """Gondolo–Gelmini ⟨σv⟩_T [GeV⁻²] (docs/physics/resonant-alp.md §5.5, [D] (4.12); Gondolo & Gelmini 1991):

        ⟨σv⟩ = 2x/K₂(x)² ∫₀^∞ dε σv_lab(ε) √ε (1+2ε) K₁(2x√(1+ε)),   s = 4m²(1+ε), x = m/T.

    ``sigma_v_lab_fn(eps)``: σ·v_lab [GeV⁻²] (v_lab = 2√(ε(1+ε))/(1+2ε)), finite for ε ≥ 0.
    ``resonance=(m_R, Γ_R)`` [GeV] of an s-channel resonance switches on the resonance-aware rule
    (module doc); σv_lab is then called as ``sigma_v_lab_fn(eps, eps_minus_eps_r)`` with
    ε − ε_R = (s − m_R²)/(4m²) computed without cancellation. m, T > 0 [GeV]. ``nodes``: Gauss–
    Legendre nodes per piece of the resonant rule (7 pieces, 7·nodes evaluations of σv_lab; the
    plain rule uses 24). Exact identity: σv_lab = c gives ⟨σv⟩ = c (plain rule to round-off,
    resonant rule to ≤ 1.1e-7 at nodes = 16).
    """
    x, v2, _, measure, values = _sigma_v_lab_at_nodes(sigma_v_lab_fn, m, T, resonance, nodes)
    return _gg_sum(x, v2, measure, values)


def _sigma_v_2_kernel(x, v2, eps):
    """(x/3)√(1+ε) Q(z, ε), z = 2x + v², replacing k1e(z) of GG in ⟨σv⟩₂
    (docs/physics/resonant-alp.md §5.5, derived here).

    From the reduced form of docs/physics/resonant-alp.md §5.5, J integrated by parts in E₊ = √s cosh u
    and combined with K₂(z) = ∫e^{−z cosh u} cosh 2u du, the bracket βsTK₂ − 2m²J becomes one
    positive integral: Q = ∫₀^∞ dt t^{−1/2} e^{−t} [2S + (β² + aS)/(1 + aS)] / √(2z + t),
    S = sinh²u = t(2z+t)/z², t = z(cosh u − 1), a = 1/(1+ε), β² = ε/(1+ε). No cancellation between terms
    (the E_p and m²/E_p pieces of the form of docs/physics/resonant-alp.md §5.5 cancel to O(T/m)
    otherwise). Inner rule: generalised Gauss–Laguerre (α = −1/2), 16 nodes: ≤ 4e-8 at z = 2 (x = 1),
    ≤ 1e-13 for z ≥ 10.
    """
    z = 2.0 * x + v2
    a = 1.0 / (1.0 + eps)
    beta2 = eps * a
    inv_z2 = 1.0 / (z * z)
    q = 0.0
    # unrolled over the inner nodes: elementwise on the outer shape, so XLA fuses everything (also
    # in the derivatives) without materialising an (outer × inner) array
    for t, w in zip(*_gauss_laguerre(_INNER_NODES, -0.5), strict=True):
        s = t * (2.0 * z + t) * inv_z2
        q = q + w * (2.0 * s + (beta2 + a * s) / (1.0 + a * s)) * jax.lax.rsqrt(2.0 * z + t)
    return x / 3.0 * (1.0 + v2 / (2.0 * x)) * q


@jax.jit
def _sv2_sum(x, v2, eps, measure, values):
    """2x/k2e(x)² Σ measure · σv_lab · (x/3)√(1+ε) Q (⟨σv⟩₂, docs/physics/resonant-alp.md §5.5)."""
    kernel = _sigma_v_2_kernel(x, v2, eps)
    return (2.0 * x[..., 0] / k2e(x[..., 0]) ** 2) * jnp.sum(measure * values * kernel, axis=-1)


def sigma_v_2(sigma_v_lab_fn, m, T, resonance=None, nodes=16):
    """⟨σv⟩₂ [GeV⁻²], the p²/(3E_p T)-weighted annihilation average (docs/physics/resonant-alp.md §5.5,
    [D] (4.13) with the corrected weight p²/(3E_p), docs/physics/conventions.md §8.7):

        ⟨σv⟩₂ = g²/(n_eq² T) ∫d³p d³q/(2π)⁶ (p²/(3E_p)) σv_Møl f_eq(p) f_eq(q).

    Evaluated as the reduced 2-D form of docs/physics/resonant-alp.md §5.5 rewritten (see
    ``_sigma_v_2_kernel``) as ⟨σv⟩₂ = 2x/K₂(x)² ∫dε σv_lab √ε(1+2ε) e^{−(√s/T − 2x)} (x/3)√(1+ε) Q(√s/T,
    ε) with the same ε quadrature and arguments as :func:`sigma_v_gg`. Exact identity:
    σv_lab = c gives ⟨σv⟩₂ = ⟨σv⟩ = c (σv_Møl = c(1 − v₁·v₂) and ⟨p²/E⟩ = 3T). Accuracy vs scipy references:
    ≤ 4e-8 (x = 1, inner rule), ≤ 1e-9 for x ≥ 10 with resonances.
    """
    x, v2, eps, measure, values = _sigma_v_lab_at_nodes(sigma_v_lab_fn, m, T, resonance, nodes)
    return _sv2_sum(x, v2, eps, measure, values)


def sigma_v_nwa(m, m_r, width_to_dm, width_to_sm, T, total_width=None, normalisation="consistent"):
    """Narrow-width ⟨σv⟩ [GeV⁻²] of χχ → R → SM through a spin-0 s-channel resonance, identical
    Majorana χ (docs/physics/resonant-alp.md §5.5, self-consistent normalisation, [D] App. A):

        ⟨σv⟩ = π² m_R² (Γ_χ Γ_SM/Γ) K₁(m_R/T) / (m⁴ T K₂(m/T)²),   m_R > 2m (else 0).

    Γ = ``total_width`` (default Γ_χ + Γ_SM). ``normalisation="as_printed"`` multiplies by 4, the
    normalisation of [D] (A.1) as printed (docs/physics/conventions.md §8.6). Masses, widths, T in GeV.
    """
    check_choice("normalisation", normalisation, ("consistent", "as_printed"))
    check_positive("m", m, "GeV")
    check_positive("T", T, "GeV")
    total = width_to_dm + width_to_sm if total_width is None else total_width
    x = m / T
    x_r = m_r / T
    is_open = m_r > 2.0 * m
    boltzmann = jnp.exp(-jnp.where(is_open, x_r - 2.0 * x, 0.0))  # K₁(x_R)/K₂(x)² = k1e/k2e² e^{−(x_R−2x)}
    widths = width_to_dm * width_to_sm / total
    value = math.pi**2 * m_r**2 * widths * k1e(x_r) * boltzmann / (m**4 * T * k2e(x) ** 2)
    value = jnp.where(is_open, value, 0.0)
    return 4.0 * value if normalisation == "as_printed" else value


# --- kinetic decoupling ([D] (4.4)–(4.9)) -------------------------------------------------------


def momentum_transfer_rate(integral_fn, m_chi, g_chi, T, m_bath=0.0, statistics="boson", nodes=48):
    """Momentum-transfer rate γ(T) [GeV] of the Fokker–Planck elastic term (docs/physics/resonant-alp.md §5.4,
    [D] (4.5), 1-D form):

        γ = 1/(384π³ g_χ m_χ³ T) ∫_{m_B}^∞ dω f(1 ∓ f) ∫_{−4k²_cm}^0 dt (−t) Σ|M|²,

    f = 1/(e^{ω/T} ∓ 1) (bosons: upper sign). ``integral_fn(omega)`` = ∫dt(−t)Σ|M|² [GeV⁶] at bath
    energy ω [GeV], Σ over all spins/polarisations of initial and final states; e.g. [D] (A.4) with
    Q = 4k²_cm, k²_cm = m_χ²(ω² − m_B²)/(m_χ² + m_B² + 2m_χω) ([D] (4.6)). m_χ, T > 0, m_bath ≥ 0 [GeV].
    Quadrature: Gauss–Laguerre in (ω − m_B)/T with ``nodes`` nodes (48: ≤ 1e-7 relative for T ≤ m_χ/3,
    ~1e-5 for T ~ 10 m_χ, where structure at ω ~ m_χ, m_a ≪ T is coarsely sampled).
    """
    check_choice("statistics", statistics, ("boson", "fermion"))
    check_positive("m_chi", m_chi, "GeV")
    check_positive("T", T, "GeV")
    check_nonnegative("m_bath", m_bath, "GeV")
    r, w = _gauss_laguerre(nodes, 0.0)
    y_b = jnp.asarray(m_bath / T, dtype=jnp.float64)
    y = y_b[..., None] + r
    # ω = T y; f(1 ∓ f) dω = T e^{−y_B} e^{−r}/(1 ∓ e^{−y})² dr, e^{−r} being the Laguerre weight
    denominator = -jnp.expm1(-y) if statistics == "boson" else 1.0 + jnp.exp(-y)
    omega = jnp.asarray(T, dtype=jnp.float64)[..., None] * y
    integral = jnp.sum(w * integral_fn(omega) / denominator**2, axis=-1)
    return jnp.exp(-y_b) * integral / (384.0 * math.pi**3 * g_chi * m_chi**3)


def thermal_moment(fn, m, T, nodes=32):
    """⟨g⟩ = ∫dp p² g(p) e^{−E/T} / (m² T K₂(m/T)) (docs/physics/resonant-alp.md §5.4 "Moments",
    Maxwell–Boltzmann).

    ``fn(p, E)`` elementwise, p and E = √(p²+m²) in GeV; m, T > 0 [GeV]. Generalised Gauss–Laguerre
    (α = 1/2) in the kinetic energy (E − m)/T, exact for polynomials in E − m (``nodes`` = 32: ≤ 5e-8
    for m/T ≥ 1 and g among p⁴/E³, p²/E², p⁴/E⁴; 1e-5 at m/T = 0.1). ⟨1⟩ = 1, ⟨p²/E⟩ = 3T exactly.
    """
    check_positive("m", m, "GeV")
    check_positive("T", T, "GeV")
    r, w = _gauss_laguerre(nodes, 0.5)
    m = jnp.asarray(m, dtype=jnp.float64)[..., None]
    T = jnp.asarray(T, dtype=jnp.float64)[..., None]
    kinetic = r * T
    root = jnp.sqrt(T * (2.0 * m + kinetic))  # p = √r · root
    p = jnp.sqrt(r) * root
    energy = m + kinetic
    # ∫dp p² g e^{−E/T} = T e^{−m/T} ∫dr r^{1/2} e^{−r} root E g ;  m²TK₂ = m²T k2e(m/T) e^{−m/T}
    total = jnp.sum(w * root * energy * fn(p, energy), axis=-1)
    return total / (m[..., 0] ** 2 * k2e(m[..., 0] / T[..., 0]))


def w_factor(m, T_chi, nodes=32):
    """w(T_χ) = 1 − ⟨p⁴/E³⟩_{T_χ}/(6T_χ) of the Hubble term of the y equation
    (docs/physics/resonant-alp.md §5.4, [D] (4.9)).

    Non-relativistic limit: ⟨p⁴/E³⟩ ≃ 15T_χ²/m, so w ≃ 1 − 5T_χ/(2m). m, T_χ > 0 [GeV].
    """
    moment = thermal_moment(lambda p, e: p**4 / e**3, m, T_chi, nodes)
    return 1.0 - moment / (6.0 * T_chi)


def elastic_a_factor(m, T_chi, nodes=32):
    """A(T_χ) = 1 − (5/6)⟨p²/E²⟩ + (1/3)⟨p⁴/E⁴⟩ of the exact second moment of the Fokker–Planck
    operator, ⟨C_el⟩₂ = γ[(y_eq/y) A − w] (docs/physics/resonant-alp.md §5.4, derived there). m,
    T_χ > 0 [GeV]."""
    return thermal_moment(lambda p, e: 1.0 - 5.0 / 6.0 * (p / e) ** 2 + (p / e) ** 4 / 3.0, m, T_chi, nodes)
