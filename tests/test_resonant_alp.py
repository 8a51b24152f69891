"""Resonant ALP portal of Ding et al. ([D], docs/physics/resonant-alp.md §5.1–5.3).

References are independent of the code under test: published numbers ([D] Fig. 1, docs/validation.md §7),
docs/physics/alp.md §2.3, docs/physics/resonant-alp.md §5.2 derived numbers, formulas of [C] (8), (9)
and of a relativistic Breit–Wigner written out here, mpmath/scipy quadratures, analytic limits
and scaling laws.
"""

import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy.integrate import quad
from transforms import check_transforms

from bkdm import constants as c
from bkdm import formfactors as ff
from bkdm.models import get_model
from bkdm.models import resonant_alp as ra

# [D] Fig. 1 benchmark: m_a = 1 GeV, m_χ = 0.475 m_a, g_aγγ = 1e-4 GeV⁻¹
FIG1 = dict(m_a=1.0, m_chi=0.475, g_agg=1e-4, g_aww=1e-4)


def lam(a, b, c_):
    return a * a + b * b + c_ * c_ - 2 * (a * b + a * c_ + b * c_)


def params(**kw):
    base = dict(m_a=2.0, m_chi=0.95, g_agg=1e-4, g_aww=1e-4, g_achichi=1e-3)
    base.update(kw)
    return ra.Params(**base)


# ------------------------------------------------------------------ widths, docs/physics/resonant-alp.md §5.1
@pytest.mark.parametrize("g_achichi, br_ref, tol", [
    # docs/validation.md §7.4 ([D] Fig. 1); tolerance = half a unit of the last quoted digit
    (1e-5, 0.043, 5e-4), (4.7e-5, 0.50, 5e-3), (1e-4, 0.82, 5e-3), (1e-3, 0.998, 5e-4),
])
def test_fig1_branching_ratios(g_achichi, br_ref, tol):
    p = ra.Params(g_achichi=g_achichi, **FIG1)
    assert abs(float(ra.br_to_dm(p)) - br_ref) < tol
    assert float(ra.br_to_dm(p) + ra.br_to_photons(p)) == pytest.approx(1.0, rel=1e-15)


def test_widths_formulas_and_scaling():
    p = params()
    # [D] (2.6), (2.7) written out here; rel 1e-14 = a few ulps
    g_ref = 1e-8 * 8.0 / (64 * math.pi)
    x_ref = 1e-6 * 2.0 * 0.95**2 / math.pi * math.sqrt(1 - 4 * 0.95**2 / 4.0)
    assert float(ra.width_to_photons(p)) == pytest.approx(g_ref, rel=1e-14)
    assert float(ra.width_to_dm(p)) == pytest.approx(x_ref, rel=1e-14)
    assert float(ra.total_width(p)) == pytest.approx(g_ref + x_ref, rel=1e-14)
    w = ra.widths(p)
    assert set(w) == {"gamgam", "chichi"}
    # scaling: Γ_aγ ∝ g_aγγ², Γ_aχ ∝ g_aχχ², each independent of the other coupling (exact up to ulps)
    p2 = params(g_agg=3e-4, g_achichi=2e-3)
    assert float(ra.width_to_photons(p2) / ra.width_to_photons(p)) == pytest.approx(9.0, rel=1e-14)
    assert float(ra.width_to_dm(p2) / ra.width_to_dm(p)) == pytest.approx(4.0, rel=1e-14)


def test_majorana_yukawa_reproduces_width():
    # on-shell vertex y_χγ₅ with a ½ for identical Majorana fermions: Γ = y² m_a β/(16π)
    # (docs/physics/resonant-alp.md §5.1)
    p = params()
    y = 4 * 1e-3 * 0.95
    assert float(ra.dm_yukawa(p)) == pytest.approx(y, rel=1e-15)
    beta = math.sqrt(1 - 4 * 0.95**2 / 2.0**2)
    assert float(ra.width_to_dm(p)) == pytest.approx(y**2 * 2.0 * beta / (16 * math.pi), rel=1e-14)


def test_dm_channel_closed_exactly_zero_with_finite_gradient():
    # m_χ > m_a/2 is allowed ([D] Fig. 3 up to r = 0.6): a → χχ closed, invisible only by escape
    p = params(m_chi=1.2)
    assert float(ra.width_to_dm(p)) == 0.0
    assert float(ra.br_to_dm(p)) == 0.0
    g = jax.grad(lambda m: ra.width_to_dm(params(m_chi=m)))(1.2)
    assert np.isfinite(float(g)) and float(g) == 0.0
    assert float(ra.invisible_fraction(p)) == pytest.approx(float(ra.escape_probability(p)), rel=1e-15)
    # exactly at threshold, m_a = 2m_χ: closed too (β = 0)
    assert float(ra.width_to_dm(params(m_chi=1.0))) == 0.0


def test_stable_alp_is_invisible():
    # no couplings to χ or γ: Γ_a = 0, the ALP always escapes (no NaN from 0/0)
    p = params(g_agg=0.0, g_achichi=0.0)
    assert float(ra.invisible_fraction(p)) == 1.0
    assert float(ra.decay_length(p)) == math.inf and float(ra.lab_decay_length(p)) == math.inf


# ----------------------------------------------------------------- B → K a, docs/physics/resonant-alp.md §5.2
def test_c_sb_numbers():
    # docs/physics/resonant-alp.md §5.2: x_t = 4.611, f(x_t) = 1.2152, |C_sb| = 1.010e-4 (tolerances:
    # half a unit of the last digit)
    x_t = (c.M_T / c.M_W) ** 2
    assert x_t == pytest.approx(4.611, abs=5e-4)
    assert float(ra.top_loop_function(x_t)) == pytest.approx(1.2152, abs=5e-5)
    assert abs(ra.c_sb()) == pytest.approx(1.010e-4, abs=5e-8)
    # same inputs in an independent transcription of [D] (3.2), (3.5); rel 1e-13 = rounding
    f_ref = x_t * (1 + x_t * (math.log(x_t) - 1)) / (1 - x_t) ** 2
    v = (math.sqrt(2) * c.G_FERMI) ** -0.5
    ref = 3 * c.M_W**2 / (16 * math.pi**2 * v**2) * c.V_TS * c.V_TB * f_ref
    assert abs(ra.c_sb()) == pytest.approx(ref, rel=1e-13)


def _br_c8(m_a, cv_over_fa, f0):
    """[C] (8) (docs/physics/alp.md §2.3) in its normalised-λ form, BR = Γ τ_B."""
    mb, mk = c.M_B_PLUS, c.M_K_PLUS
    width = (cv_over_fa**2 / (64 * math.pi) * mb**3 * (1 - mk**2 / mb**2) ** 2 * f0**2
             * math.sqrt(lam(1.0, mk**2 / mb**2, m_a**2 / mb**2)))
    return width * c.TAU_B_PLUS_S / c.HBAR_GEV_S


def _br_c9(m_a, ca_over_fa, a0):
    """[C] (9) (docs/physics/alp.md §2.3), BR = Γ τ_B."""
    mb, mv = c.M_B_PLUS, c.M_KSTAR_PLUS
    width = ca_over_fa**2 / (64 * math.pi) * mb**3 * a0**2 * lam(1.0, mv**2 / mb**2, m_a**2 / mb**2) ** 1.5
    return width * c.TAU_B_PLUS_S / c.HBAR_GEV_S


@pytest.mark.parametrize("m_a", [0.3, 1.0, 2.0, 4.0])
def test_br_b_to_k_equals_c8_with_mapped_coupling(m_a):
    # [D] (3.1) ≡ [C] (8) with |c^V_sb|/f_a = g_aWW|C_sb|; rel 1e-12 (different algebra, same inputs)
    p = params(m_a=m_a, m_chi=0.3 * m_a, g_aww=3e-5)
    cv = 3e-5 * abs(ra.c_sb())
    ref = _br_c8(m_a, cv, float(ff.bk_f_zero(m_a**2)))
    assert float(ra.br_b_to_k(p)) == pytest.approx(ref, rel=1e-12)
    ca = cv  # |c^A_sb|/f_a = g_aWW|C_sb| too (P_L = (1 − γ₅)/2)
    ref_kstar = _br_c9(m_a, ca, float(ff.bkstar_a0(m_a**2)))
    assert float(ra.br_b_to_kstar(p)) == pytest.approx(ref_kstar, rel=1e-12)


@pytest.mark.parametrize("m_a, k_ref, kstar_ref", [(2.0, 2.046e11, 1.896e11), (2.1, 2.055e11, 1.887e11)])
def test_br_per_coupling_spec_numbers(m_a, k_ref, kstar_ref):
    # docs/physics/alp.md §2.3, docs/validation.md §7.9: BR/(|c|/f_a)² [GeV²], tolerance 1e-3
    # (4 quoted digits)
    p = params(m_a=m_a)
    coupling2 = (1e-4 * abs(ra.c_sb())) ** 2
    assert float(ra.br_b_to_k(p)) / coupling2 == pytest.approx(k_ref, rel=1e-3)
    assert float(ra.br_b_to_kstar(p)) / coupling2 == pytest.approx(kstar_ref, rel=1e-3)


@pytest.mark.parametrize("m_a", [0.75, 2.0, 4.5])
def test_ding_form_factor_ratio(m_a):
    # switching F = f₀ → F_K rescales the BR by F_K²/f₀² (rel 1e-12); docs/physics/resonant-alp.md §5.2:
    # F_K is 1–12 % below f₀
    p_g, p_d = params(m_a=m_a), params(m_a=m_a, form_factor="ding")
    ratio = float(ff.ding_f_k(m_a**2) / ff.bk_f_zero(m_a**2))
    assert 0.87 < ratio < 0.995
    assert float(ra.br_b_to_k(p_d) / ra.br_b_to_k(p_g)) == pytest.approx(ratio**2, rel=1e-12)


def test_benchmark_cb_equals_cw():
    p = ra.Params.cb_equals_cw(1.0, 0.47, 2e-5, 1e-3)
    assert float(p.g_aww) == float(p.g_agg) == 2e-5
    assert p.normalisation == "consistent" and p.form_factor == "grvdv" and p.boost == "exact"


# ------------------------------------------------------------------ escape, docs/physics/resonant-alp.md §5.2
def test_escape_probability_exact_and_ding_boost():
    p = params(m_a=0.5, m_chi=0.3, g_agg=1e-5, g_achichi=0.0)
    mb, mk, ma = c.M_B_PLUS, c.M_K_PLUS, 0.5
    e_a = (mb**2 + ma**2 - mk**2) / (2 * mb)  # ALP energy in the B rest frame
    bg_exact = math.sqrt(e_a**2 - ma**2) / ma
    gamma = 1e-10 * ma**3 / (64 * math.pi)
    for boost, bg in (("exact", bg_exact), ("ding", mb / (2 * ma))):
        q = p.replace(boost=boost)
        # rel 1e-12: same formula (5.2), independent kinematics
        assert float(ra.boost_in_b_decay(q)) == pytest.approx(bg, rel=1e-12)
        assert float(ra.decay_length(q)) == pytest.approx(c.HBARC_GEV_M / gamma, rel=1e-12)
        assert float(ra.lab_decay_length(q)) == pytest.approx(bg * c.HBARC_GEV_M / gamma, rel=1e-12)
        p_esc = math.exp(-1.5 * gamma / (bg * c.HBARC_GEV_M))
        assert float(ra.escape_probability(q)) == pytest.approx(p_esc, rel=1e-12)
        assert float(ra.invisible_fraction(q)) == pytest.approx(p_esc, rel=1e-12)  # BR(a → γγ) = 1
    # a larger detector lets fewer ALPs escape: P(3 m) = P(1.5 m)²
    p3 = p.replace(detector_radius=3.0)
    assert float(ra.escape_probability(p3)) == pytest.approx(float(ra.escape_probability(p)) ** 2, rel=1e-12)


def test_invisible_fraction_combines_both_scenarios():
    p = params(m_a=1.0, m_chi=0.45, g_agg=1e-5, g_achichi=1e-6)
    br_dm = float(ra.br_to_dm(p))
    assert 0.01 < br_dm < 0.99  # genuinely mixed point
    ref = br_dm + (1 - br_dm) * float(ra.escape_probability(p))
    assert float(ra.invisible_fraction(p)) == pytest.approx(ref, rel=1e-14)
    assert float(ra.br_b_to_k_invisible(p)) == pytest.approx(ref * float(ra.br_b_to_k(p)), rel=1e-14)


def test_closed_b_channels():
    # m_B − m_K* < m_a < m_B − m_K: K* closed, K open
    p = params(m_a=4.5, m_chi=1.0)
    with pytest.raises(ValueError, match="m_a"):
        ra.br_b_to_kstar(p)
    assert float(ra.br_b_to_k(p)) > 0
    closed = params(m_a=5.0, m_chi=1.0)
    with pytest.raises(ValueError, match="m_a"):
        ra.br_b_to_k(closed)
    with pytest.raises(ValueError, match="m_a"):
        ra.br_b_to_k_invisible(closed)
    # under jit: exactly 0 with finite gradient
    assert float(jax.jit(ra.br_b_to_k)(closed)) == 0.0
    assert float(jax.jit(ra.br_b_to_k_invisible)(closed)) == 0.0
    assert float(jax.jit(ra.br_b_to_kstar)(p)) == 0.0
    for f in (ra.br_b_to_k, ra.br_b_to_k_invisible):
        g = jax.grad(lambda m, f=f: f(params(m_a=m, m_chi=1.0)))(5.0)
        assert np.isfinite(float(g))
    assert float(jax.jit(ra.escape_probability)(closed)) == 0.0  # no ALP momentum (exact boost)
    summary = ra.summary(closed)
    assert "BR(B+->K+ a)" not in summary and "BR(B+->K*+ a)" not in summary


# ---------------------------------------------------------------------- σv, docs/physics/resonant-alp.md §5.3
def _rbw_sigma_v_lab(s, m_a, m, g_x, g_g):
    """χχ → a* → γγ from a relativistic Breit–Wigner built only from Γ_aχ, Γ_aγ ([D] (2.6), (2.7)).

    Σ_spins|M|² = Σ|M(χχ → a*)|² Σ|M(a* → γγ)|² / |s − m_a² + i m_aΓ_a|², and each vertex follows from
    its width at mass √s (two-body phase space ∫dΦ₂ = β/(8π), ½ for identical final particles):
      Γ_aχ(√s) = 1/(2√s)·½·β/(8π)·Σ|M_χ|²  ⇒  Σ|M_χ|² = 32π √s Γ_aχ(√s)/β,
      Γ_aγ(√s) = 1/(2√s)·½·1/(8π)·Σ|M_γ|²  ⇒  Σ|M_γ|² = 32π √s Γ_aγ(√s).
    σ = ¼ (average over the 2×2 Majorana spins; no identical-particle factor for the initial state)
        × 1/(4F) (flux, F = ½√(s(s − 4m²)) = ½ sβ) × ½ (identical photons) × Σ|M|²/(8π) (isotropic)
      = 8π Γ_aχ(√s) Γ_aγ(√s) / (β² [(s − m_a²)² + m_a²Γ_a²]).
    At s = m_a² this is the textbook peak 8π BR_χ BR_γ/(β² m_a²) = (4π/k²)·(2J+1)/((2s₁+1)(2s₂+1))·2·BR·BR
    with k = m_aβ/2, J = 0, the 2 for identical initial particles. Finally v_lab = sβ/(s − 2m²).
    """
    beta = math.sqrt(1 - 4 * m * m / s)
    gam_x = g_x**2 * math.sqrt(s) * m * m / math.pi * beta
    gam_g = g_g**2 * s**1.5 / (64 * math.pi)
    gam_tot = (g_x**2 * m_a * m * m / math.pi * math.sqrt(1 - 4 * m * m / m_a**2)
               + g_g**2 * m_a**3 / (64 * math.pi))
    sigma = 8 * math.pi * gam_x * gam_g / (beta**2 * ((s - m_a**2) ** 2 + m_a**2 * gam_tot**2))
    return sigma * s * beta / (s - 2 * m * m)


def test_sigma_v_consistent_equals_breit_wigner():
    m_a, m, g_x, g_g = 1.0, 0.45, 1e-3, 1e-3
    p = ra.Params(m_a=m_a, m_chi=m, g_agg=g_g, g_aww=g_g, g_achichi=g_x)
    gam = float(ra.total_width(p))
    # on the pole and within ±5 widths, and off-resonance: rel 1e-12 (same algebraic content, rounding)
    for s in [m_a**2, m_a**2 + 2 * m_a * gam, m_a**2 - 5 * m_a * gam, 0.9, 1.3, 4 * m * m * (1 + 1e-6)]:
        assert float(ra.sigma_v_lab(p, s)) == pytest.approx(_rbw_sigma_v_lab(s, m_a, m, g_x, g_g), rel=1e-12)
    # peak: 8π BR_χ BR_γ/(β² m_a²) × v_lab
    beta = math.sqrt(1 - 4 * m * m / m_a**2)
    peak = 8 * math.pi * float(ra.br_to_dm(p) * ra.br_to_photons(p)) / (beta**2 * m_a**2)
    assert float(ra.sigma_v_lab(p, m_a**2)) == pytest.approx(peak * beta / (1 - 2 * m * m), rel=1e-12)


def test_sigma_v_as_printed_is_four_times_consistent():
    p = params(m_a=1.0, m_chi=0.47)
    s = jnp.linspace(4 * 0.47**2, 3.0, 7)
    ratio = ra.sigma_v_lab(p.replace(normalisation="as_printed"), s) / ra.sigma_v_lab(p, s)
    np.testing.assert_allclose(np.asarray(ratio), 4.0, rtol=1e-14)  # 2π vs 8π, exact up to ulps
    # (A.1) transcribed literally from [D]: s^{5/2} √(s(s − 4m²)) / (2π √(s − 4m²) (s − 2m²) BW); rel 1e-13
    g_x, g_g, m_a, m = 1e-3, 1e-4, 1.0, 0.47
    gam = float(ra.total_width(p))
    for si in (0.9, 1.0, 1.7):
        printed = (g_x**2 * g_g**2 * m**2 * si**2.5 * math.sqrt(si * (si - 4 * m * m))
                   / (2 * math.pi * math.sqrt(si - 4 * m * m) * (si - 2 * m * m)
                      * (m_a**2 * gam**2 + (m_a**2 - si) ** 2)))
        got = ra.sigma_v_lab(p.replace(normalisation="as_printed"), si)
        assert float(got) == pytest.approx(printed, rel=1e-13)


def test_sigma_v_below_threshold_is_zero():
    p = params(m_a=1.0, m_chi=0.47)
    assert float(ra.sigma_v_lab(p, 0.5)) == 0.0
    g = jax.grad(lambda s: ra.sigma_v_lab(p, s))(0.5)
    assert float(g) == 0.0


# -------------------------------------------------------------------- I(Q), docs/physics/resonant-alp.md §5.3
def test_t_integral_against_mpmath():
    # I(Q) = ∫₀^Q u⁴/(u + M)² du by mpmath quadrature at 50 digits (independent of the closed form);
    # tolerance 2e-14: the series branch is exact to ~1e-16, the closed form at Q ≥ M loses ≲ 50 ulps
    mpmath.mp.dps = 50
    for m2 in (0.7, 4.0):
        x = np.concatenate([np.logspace(-8, 4, 25), [0.999999, 1.0, 1.000001]])
        got = np.asarray(ra.scattering_t_integral(x * m2, m2))
        for xi, gi in zip(x, got, strict=True):
            ref = mpmath.quad(lambda u, m2=m2: u**4 / (u + m2) ** 2, [0, mpmath.mpf(xi * m2)])
            assert abs(gi / float(ref) - 1) < 2e-14, (m2, xi)


def test_elastic_momentum_transfer_against_quadrature():
    # ∫_{−Q}^0 dt (−t) Σ|M|², Σ|M|² = y_χ² g_aγγ² (−t)³/(t − m_a²)² (docs/physics/resonant-alp.md §5.3),
    # y_χ = 4 g_aχχ m_χ, with Q = 4k_cm², k_cm² from [D] (4.6) at m_B = 0; scipy quad, rel 1e-9
    m_a, m, g_x, g_g = 1.0, 0.45, 1e-3, 2e-4
    p = ra.Params(m_a=m_a, m_chi=m, g_agg=g_g, g_aww=g_g, g_achichi=g_x)
    y = 4 * g_x * m
    for omega in (0.01, 0.2, 3.0):
        k2 = m**2 * omega**2 / (m**2 + 2 * m * omega)
        ref, _ = quad(lambda t: -t * y**2 * g_g**2 * (-t) ** 3 / (t - m_a**2) ** 2, -4 * k2, 0,
                      epsabs=0, epsrel=1e-12)
        assert float(ra.elastic_momentum_transfer(p, omega)) == pytest.approx(ref, rel=1e-9)
        printed = ra.elastic_momentum_transfer(p.replace(normalisation="as_printed"), omega)
        assert float(printed / ra.elastic_momentum_transfer(p, omega)) == pytest.approx(0.5, rel=1e-14)


def test_elastic_as_printed_matches_transcribed_a4():
    # [D] (A.4) transcribed term by term (k = ω for the photon), with the (4/3)k²m_χ factor multiplying
    # the four rational terms (docs/physics/resonant-alp.md §5.3: mis-grouped bracket);
    # Q ≳ M/2 keeps the transcribed form free of cancellation (≲ 1e3 ulps), rel 1e-12
    m_a, m, g_x, g_g = 1.0, 0.45, 1e-3, 2e-4
    p = ra.Params(m_a=m_a, m_chi=m, g_agg=g_g, g_aww=g_g, g_achichi=g_x, normalisation="as_printed")
    for k in (0.7, 1.5, 3.0):
        d = m + 2 * k
        bracket = (4 * m_a**6 * (math.log(m_a**2) - math.log(4 * k * k * m / d + m_a**2))
                   + 4 / 3 * k * k * m * (16 * k**4 * m * m / d**3 - 12 * k * k * m_a**2 * m / d**2
                                          + 3 * m_a**6 / (4 * k * k * m + m_a**2 * d) + 9 * m_a**4 / d))
        printed = 8 * g_x**2 * g_g**2 * m * m * bracket
        assert float(ra.elastic_momentum_transfer(p, k)) == pytest.approx(printed, rel=1e-12)


@pytest.mark.parametrize("omega", [1e-4, 1e-3, 1e-2])
def test_elastic_low_temperature_limit(omega):
    # Q ≪ M: ∫dt(−t)Σ|M|² → 16 g²g² m² Q⁵/(5M²) (docs/physics/resonant-alp.md §5.4), Q → 4ω² for ω ≪ m_χ;
    # the next term is −(5/3)Q/M relative, so |ratio − 1| ≤ 2Q/M
    m_a, m = 1.0, 0.45
    p = ra.Params(m_a=m_a, m_chi=m, g_agg=1e-3, g_aww=1e-3, g_achichi=1e-3)
    q = 4 * m * omega**2 / (m + 2 * omega)
    lead = 16 * (1e-3 * 1e-3 * m) ** 2 * q**5 / (5 * m_a**4)
    ratio = float(ra.elastic_momentum_transfer(p, omega)) / lead
    assert abs(ratio - 1) <= 2 * q / m_a**2
    q_naive = 4 * omega**2
    assert abs(q / q_naive - 1) <= 2.1 * omega / m  # Q = 4ω²(1 − 2ω/m_χ + …)


# ------------------------------------------------------------------------------ transforms
TRANSFORMS = {
    "width_to_photons(g_agg)": (lambda g: ra.width_to_photons(params(g_agg=g)), 1e-4),
    "width_to_dm(m_chi)": (lambda m: ra.width_to_dm(params(m_chi=m)), 0.9),
    "br_to_dm(g_achichi)": (lambda g: ra.br_to_dm(ra.Params(g_achichi=g, **FIG1)), 4.7e-5),
    "br_b_to_k(m_a)": (lambda m: ra.br_b_to_k(params(m_a=m)), 2.0),
    "br_b_to_k ding(m_a)": (lambda m: ra.br_b_to_k(params(m_a=m, form_factor="ding")), 3.0),
    "br_b_to_kstar(m_a)": (lambda m: ra.br_b_to_kstar(params(m_a=m)), 2.0),
    "br_b_to_k_invisible(m_a)": (
        lambda m: ra.br_b_to_k_invisible(params(m_a=m, m_chi=0.3, g_agg=1e-5, g_achichi=1e-6)), 0.5),
    "invisible ding boost(g_agg)": (
        lambda g: ra.invisible_fraction(params(m_a=0.5, m_chi=0.3, g_agg=g, boost="ding")), 1e-5),
    "escape_probability(detector_radius)": (
        lambda r: ra.escape_probability(params(m_a=0.5, g_agg=1e-5, detector_radius=r)), 1.5),
    "sigma_v_lab(s)": (lambda s: ra.sigma_v_lab(params(m_a=1.0, m_chi=0.47), s), 0.95),
    "elastic(omega) series": (lambda w: ra.elastic_momentum_transfer(params(m_a=1.0, m_chi=0.47), w), 0.05),
    "elastic(omega) closed form": (
        lambda w: ra.elastic_momentum_transfer(params(m_a=1.0, m_chi=0.47), w), 2.0),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transforms(name):
    f, x = TRANSFORMS[name]
    check_transforms(f, x)


def test_vmap_over_array_params():
    n = 3
    fields = dict(m_a=jnp.array([0.5, 1.0, 2.0]), m_chi=jnp.array([0.2, 0.47, 0.95]),
                  g_agg=jnp.full(n, 1e-5), g_aww=jnp.full(n, 2e-5), g_achichi=jnp.array([0.0, 1e-6, 1e-3]),
                  detector_radius=jnp.full(n, 1.5))
    batch = ra.Params(**fields)
    for f in (ra.br_b_to_k_invisible, ra.total_width, ra.invisible_fraction, ra.br_b_to_kstar):
        got = np.asarray(jax.vmap(f)(batch))
        loop = [float(f(ra.Params(**{k: float(v[i]) for k, v in fields.items()}))) for i in range(n)]
        np.testing.assert_allclose(got, loop, rtol=1e-12)  # same ops, batched (fusion reorders flops)
        np.testing.assert_allclose(np.asarray(f(batch)), loop, rtol=1e-12)  # plain broadcasting too


# ------------------------------------------------------------------------------ validation, interface
@pytest.mark.parametrize("field, value", [
    ("m_a", 0.0), ("m_chi", -1.0), ("g_agg", -1e-5), ("g_aww", -1e-5), ("g_achichi", -1e-3),
    ("detector_radius", 0.0), ("m_a", float("nan")),
])
def test_invalid_values_name_the_parameter(field, value):
    with pytest.raises(ValueError, match=field):
        params(**{field: value})


@pytest.mark.parametrize("option, value", [
    ("normalisation", "printed"), ("form_factor", "bsz"), ("boost", "approx"),
])
def test_invalid_options(option, value):
    with pytest.raises(ValueError, match=option):
        params(**{option: value})


def test_interface_and_summary():
    assert get_model("resonant-alp") is ra
    assert ra.NAME == "resonant-alp"
    assert set(ra.PARAMETERS) == {"m_a", "m_chi", "g_agg", "g_aww", "g_achichi", "detector_radius"}
    p = params()
    assert float(ra.mediator_mass(p)) == 2.0 and float(ra.dm_mass(p)) == 0.95
    s = ra.summary(p)
    assert all(isinstance(v, float) and np.isfinite(v) for v in s.values())
    assert s["BR(B+->K+ a)"] == pytest.approx(float(ra.br_b_to_k(p)), rel=1e-15)
