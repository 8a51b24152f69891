"""bkdm.cosmo.thermo against docs/physics/alp-freeze-in.md §3.8 reference numbers, analytic limits,
scipy Bessel functions and finite differences (independent of the code under test)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sp
from transforms import check_transforms

from bkdm.constants import M_PLANCK, OMEGA_H2_PER_MY, RHO_CRIT_OVER_H2_GEV4, S0_GEV3
from bkdm.cosmo import thermo
from bkdm.cosmo.thermo import (
    dln_g_star_s_dln_T,
    entropy_density,
    g_star,
    g_star_s,
    hubble_rate,
    hubble_tilde,
    log_yield_eq,
    number_density_eq,
    omega_h2,
    y_eq,
    yield_eq,
)

# docs/physics/alp-freeze-in.md §3.8 (an independent numpy/scipy calculation): T [GeV] → (g_*, g_*s)
G_STAR_REF = [
    (1e-5, 3.355, 3.897),
    (1e-3, 10.479, 10.498),
    (0.01, 10.783, 10.775),
    (0.1, 17.744, 17.439),
    (0.15, 25.04, 23.78),
    (0.2, 56.60, 56.21),
    (1.0, 76.08, 75.24),
    (10.0, 85.96, 85.93),
    (1000.0, 106.04, 106.25),
]


@pytest.mark.parametrize("T,g,gs", G_STAR_REF)
def test_g_star_spec_values(T, g, gs):
    # docs/validation.md §7.7: 1e-3 relative (the reference numbers are printed with 4–5 significant digits)
    assert float(g_star(T)) == pytest.approx(g, rel=1e-3)
    assert float(g_star_s(T)) == pytest.approx(gs, rel=1e-3)


def test_g_star_asymptotes():
    # low T: exp(a0) (every tanh → −1); high T: ≈ 106 (docs/physics/alp-freeze-in.md §3.8)
    assert float(g_star(1e-9)) == pytest.approx(math.exp(1.21), rel=1e-6)
    assert float(g_star_s(1e-9)) == pytest.approx(math.exp(1.36), rel=1e-6)
    assert float(g_star(1e5)) == pytest.approx(106.0, rel=5e-3)
    assert float(g_star_s(1e5)) == pytest.approx(106.0, rel=5e-3)


def test_dln_g_star_s_vs_finite_difference():
    # analytic sech² form vs a central difference of ln g_*s in ln T (step 1e-5: truncation
    # O(h² g''') ≲ 1e-9 even at the QCD transition, where the narrowest tanh has width 0.155)
    T = np.logspace(-6, 4, 301)
    h = 1e-5
    fd = (np.log(np.asarray(g_star_s(T * math.exp(h)))) - np.log(np.asarray(g_star_s(T * math.exp(-h))))) / (
        2 * h
    )
    np.testing.assert_allclose(np.asarray(dln_g_star_s_dln_T(T)), fd, rtol=1e-7, atol=1e-9)


def test_hubble_rate_two_planck_masses():
    # [C] (26) with M_Pl = 2.435e18 vs the [D]/DRAKE form H = 1.66 √g* T²/m_Pl. They agree to the
    # rounding of the inputs: 1.66 vs √(4π³/45) = 1.6602 (1.2e-4) and √(8π)·2.435e18 = 1.22067e19
    # vs 1.22089e19 (1.8e-4) → tolerance 5e-4.
    T = np.logspace(-4, 3, 50)
    ref = 1.66 * np.sqrt(np.asarray(g_star(T))) * T**2 / M_PLANCK
    np.testing.assert_allclose(np.asarray(hubble_rate(T)), ref, rtol=5e-4)


def test_hubble_tilde_from_entropy_conservation():
    # s a³ = const ⇒ d ln a/d ln T = −(1/3) d ln(g_*s T³)/d ln T, and dx/dt = x H̃ with
    # H̃ = H / (−d ln a/d ln T). The derivative is taken by finite differences of the entropy
    # density (independent of the analytic dln g formula); step 1e-5 → ~1e-9 truncation.
    T = np.logspace(-4, 3, 60)
    h = 1e-5
    dlns = (
        np.log(np.asarray(entropy_density(T * math.exp(h))))
        - np.log(np.asarray(entropy_density(T * math.exp(-h))))
    ) / (2 * h)
    ref = np.asarray(hubble_rate(T)) / (dlns / 3.0)
    np.testing.assert_allclose(np.asarray(hubble_tilde(T)), ref, rtol=1e-7)
    # the log forms used inside the Boltzmann right-hand sides: same H̃ (the finite-difference
    # reference above, 1e-7) and s (ln of the closed form, to round-off 1e-13)
    np.testing.assert_allclose(np.exp(np.asarray(thermo.log_hubble_tilde(T))), ref, rtol=1e-7)
    closed_form = 2 * math.pi**2 / 45 * np.asarray(thermo.g_star_s(T)) * T**3
    np.testing.assert_allclose(np.asarray(thermo.log_entropy_density(T)), np.log(closed_form), rtol=1e-13)


def test_entropy_density_massless_gas():
    # s = (2π²/45) g_*s T³: at T = 1e-6 GeV (photons + 3 ν at T_ν/T = (4/11)^{1/3}) g_*s = 3.91;
    # the fit gives exp(1.36) = 3.896 (0.4 % below 3.91 — property of the fit,
    # docs/physics/alp-freeze-in.md §3.8)
    assert float(entropy_density(1e-6)) / (2 * math.pi**2 / 45 * 1e-18) == pytest.approx(3.91, rel=5e-3)


@pytest.mark.parametrize("x", [1e-3, 0.1, 1.0, 10.0, 100.0, 600.0])
def test_number_density_and_yield_vs_scipy(x):
    # MB n_eq = g m² T K₂(m/T)/(2π²) with scipy's kn (Cephes); 1e-12 covers our k2e (≤ 1e-13)
    T, g = 0.7, 2.0
    m = x * T
    n_ref = g * m * m * T * sp.kn(2, x) / (2 * math.pi**2)
    assert float(number_density_eq(m, g, T)) == pytest.approx(n_ref, rel=1e-12)
    y_ref = 45 * g / (4 * math.pi**4 * float(g_star_s(T))) * x * x * sp.kn(2, x)
    assert float(yield_eq(m, g, T)) == pytest.approx(y_ref, rel=1e-12)


@pytest.mark.parametrize("x", [800.0, 3000.0, 1e4, 1e5])
def test_log_yield_eq_no_underflow(x):
    # Y_eq underflows beyond x ≈ 700; its log stays exact: compare with scipy's scaled kve
    T, g = 0.05, 2.0
    ref = math.log(45 * g / (4 * math.pi**4 * float(g_star_s(T)))) + math.log(x * x * sp.kve(2, x)) - x
    val = float(log_yield_eq(x * T, g, T))
    assert math.isfinite(val)
    assert val == pytest.approx(ref, rel=1e-13)
    assert float(yield_eq(x * T, g, T)) == pytest.approx(math.exp(ref), abs=1e-300)


def test_massless_limits():
    # [C] (29): Y_eq → 45 g/(2π⁴ g_*s) and n_eq → g T³/π² for m → 0; small m continuous (1e-12)
    T, g = 3.0, 6.0
    gs = float(g_star_s(T))
    assert float(yield_eq(0.0, g, T)) == pytest.approx(45 * g / (2 * math.pi**4 * gs), rel=1e-14)
    assert float(number_density_eq(0.0, g, T)) == pytest.approx(g * T**3 / math.pi**2, rel=1e-14)
    for m in [1e-7 * T, 0.99e-4 * T, 1.01e-4 * T]:  # both sides of the series switch at x = 1e-4
        ref = 45 * g / (4 * math.pi**4 * gs) * (m / T) ** 2 * sp.kn(2, m / T)
        assert float(yield_eq(m, g, T)) == pytest.approx(ref, rel=1e-12)
    # gradient at m = 0 is finite (and 0: x²K₂ = 2 − x²/2 + …)
    assert float(jax.grad(lambda m: yield_eq(m, g, T))(0.0)) == 0.0


def test_y_eq_and_omega():
    # y_eq = m T / s^{2/3} ([D] (4.7)); Ω h² = m Y s₀/(ρ_c/h²) with s₀, ρ_c of
    # docs/physics/constants.md §1.3 (the stored factor 2.7439e8 and the ratio of the two constants agree to
    # their 4–5 printed digits → 1e-4)
    m, T = 50.0, 2.0
    assert float(y_eq(m, T)) == pytest.approx(m * T / float(entropy_density(T)) ** (2 / 3), rel=1e-14)
    assert float(omega_h2(1.0, 1.0)) == pytest.approx(S0_GEV3 / RHO_CRIT_OVER_H2_GEV4, rel=1e-4)
    # Ωh² = 0.12 for a 100 GeV relic needs Y∞ = 0.12/(2.7439e8·100)
    assert float(omega_h2(100.0, 0.12 / (OMEGA_H2_PER_MY * 100.0))) == pytest.approx(0.12, rel=1e-14)


@pytest.mark.parametrize(
    "f,x",
    [
        (g_star, 0.17),
        (g_star_s, 3.0),
        (dln_g_star_s_dln_T, 0.2),
        (hubble_rate, 10.0),
        (hubble_tilde, 0.15),
        (entropy_density, 1e-3),
        (lambda T: log_yield_eq(100.0, 2.0, T), 0.5),
        (lambda m: yield_eq(m, 2.0, 1.0), 3.0),
        (lambda m: number_density_eq(m, 2.0, 1.0), 0.3),
        (lambda T: y_eq(100.0, T), 4.0),
    ],
)
def test_transforms(f, x):
    check_transforms(f, x)


def test_broadcasting_and_validation():
    T = jnp.array([0.1, 1.0, 10.0])
    assert log_yield_eq(jnp.array([1.0, 2.0, 3.0]), 2.0, T).shape == (3,)
    with pytest.raises(ValueError, match="T"):
        yield_eq(1.0, 2.0, -1.0)
    with pytest.raises(ValueError, match="m"):
        number_density_eq(-1.0, 2.0, 1.0)
