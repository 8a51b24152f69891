"""Coupled (Y, y) Boltzmann system with early kinetic decoupling ([D] (4.8)–(4.9)): limits of
docs/validation.md §7.17 and [D]'s statements, and an independent scipy Radau reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bkdm.cosmo import kinetic_decoupling as kd
from bkdm.cosmo import reference as ref
from bkdm.cosmo import solver as slv
from bkdm.cosmo import thermo
from bkdm.models import resonant_alp as ra

# points with Ω_NBE h² = 0.12 (m_a = 1 GeV, g_aχχ = 1e-2 GeV⁻¹; g_aγγ = g_aWW tuned by a root search)
NEAR = ra.Params(m_a=1.0, m_chi=0.49, g_agg=1.1165e-05, g_aww=1.1165e-05, g_achichi=1e-2)
# far below the resonance Ωh² = 0.12 needs g ~ 0.1 GeV⁻¹, where BR(B → K a) > 1: a cosmology-only point
FAR_BELOW = ra.Params(m_a=1.0, m_chi=0.30, g_agg=1.2437e-01, g_aww=1.2437e-01, g_achichi=1e-2, br_limit=False)
FAR_ABOVE = ra.Params(m_a=1.0, m_chi=0.60, g_agg=1.2306e-02, g_aww=1.2306e-02, g_achichi=1e-2)

cbe = jax.jit(lambda p: ra.relic(p, "cbe"))
nbe = jax.jit(lambda p: ra.relic(p, "nbe"))


def test_infinite_momentum_transfer_reproduces_nbe():
    # docs/validation.md §7.17: with γ → ∞ the DM stays at T_χ = T and (4.8) becomes the NBE. γ × 1e20 is
    # "infinite" only while γ/H (∝ T^5.5 at x = 20, T⁸ only for x ≳ 10⁴) stays ≫ 1 until freeze-out
    # ends, true at these points
    # (not at r = ½, where annihilation never stops). Tolerance 1e-4 (two solves, each ~1e-5).
    fast = lambda T, p: 1e20 * ra.momentum_transfer_rate(T, p)
    for p in (NEAR, FAR_ABOVE):
        r = jax.jit(lambda q: kd.solve(ra.thermal_sigma_v, ra.thermal_sigma_v_2, fast, q, q.m_chi, 2.0))(p)
        assert float(r.omega_h2) / float(nbe(p).omega_h2) == pytest.approx(1.0, abs=1e-4)


def test_far_from_resonance_cbe_equals_nbe():
    # [D] Sec. 4.2: for r < 0.37 and r > 0.55 the phase-space distribution stays Maxwellian and
    # Ω_CBE/Ω_NBE → 1. Measured 1.007 (r = 0.30) and 0.985 (r = 0.60): tolerance 3 %.
    for p in (FAR_BELOW, FAR_ABOVE):
        assert float(nbe(p).omega_h2) == pytest.approx(0.12, rel=1e-3)
        assert float(cbe(p).omega_h2) / 0.12 == pytest.approx(1.0, abs=0.03)


def test_near_resonance_early_kinetic_decoupling_matters():
    # [D] Fig. 3: the sub-resonant region r ≈ 0.45–0.49 has Ω_CBE > Ω_NBE (EKD depletes the
    # high-momentum tail) — here 1.31 at r = 0.49.
    assert float(cbe(NEAR).omega_h2) / float(nbe(NEAR).omega_h2) > 1.2


def test_y_tracks_y_eq_while_elastic_scattering_is_fast():
    # docs/validation.md §7.17: while γ ≫ H the DM temperature equals the bath's. With γ × 1e20 (decoupling
    # pushed late) T_χ/T − 1 is the first-order quasi-static lag, O(H̃/γ): bounded by 2 H̃/γ (measured
    # 1.1 H̃/γ) wherever γ/H̃ > 1e3.
    fast = lambda T, p: 1e20 * ra.momentum_transfer_rate(T, p)
    r = jax.jit(lambda q: kd.solve(ra.thermal_sigma_v, ra.thermal_sigma_v_2, fast, q, q.m_chi, 2.0,
                                   history=40))(NEAR)
    x = np.asarray(r.x_history)
    ratio = np.asarray(r.y_history) / np.asarray(r.y_eq_history)
    gamma_over_h = np.array([float(fast(0.49 / xx, NEAR) / thermo.hubble_tilde(0.49 / xx)) for xx in x])
    coupled = gamma_over_h > 1e3
    assert coupled.sum() > 10
    assert np.all(np.abs(ratio[coupled] - 1) < 2.0 / gamma_over_h[coupled] + 1e-12)  # + round-off


def test_kinetic_decoupling_history_near_resonance():
    # Physical γ at r = 0.49 is weak (γ/H̃ ≈ 3 at x = 1), but resonant annihilation keeps T_χ = T
    # until chemical freeze-out (|T_χ/T − 1| < 1e-3 for x < 10); then the resonance heats the DM
    # (T_χ/T > 1 around x ~ 20–40, the orange curve of [D] Fig. 4) and finally T_χ ∝ a⁻²: T_χ ≪ T.
    r = jax.jit(lambda p: ra.relic(p, "cbe", history=60))(NEAR)
    x = np.asarray(r.x_history)
    ratio = np.asarray(r.y_history) / np.asarray(r.y_eq_history)
    assert np.all(np.abs(ratio[x < 10] - 1) < 1e-3)
    assert ratio[(x > 20) & (x < 40)].max() > 1.3
    assert ratio[-1] < 0.01


def test_matches_scipy_radau():
    # Radau in (ln Y, ln y) on splines of the same ⟨σv⟩, ⟨σv⟩₂, γ; w(T_χ) by quad. Issue: ≤ 1e-4
    # at rtol 1e-10; measured 1.2e-6 (PRECISE) — also T_χ/T at x_final to 1e-4.
    r = jax.jit(lambda p: ra.relic(p, "cbe", slv.PRECISE))(NEAR)
    sv = jax.jit(jax.vmap(lambda T: ra.thermal_sigma_v(T, NEAR)))
    sv2 = jax.jit(jax.vmap(lambda T: ra.thermal_sigma_v_2(T, NEAR)))
    gm = jax.jit(jax.vmap(lambda T: ra.momentum_transfer_rate(T, NEAR)))
    om, _, tratio = ref.kinetic_decoupling(
        lambda T: np.asarray(sv(jnp.asarray(T))), lambda T: np.asarray(sv2(jnp.asarray(T))),
        lambda T: np.asarray(gm(jnp.asarray(T))), 0.49, 2.0, float(r.x_start), ra.X_FINAL)
    assert float(r.omega_h2) / om == pytest.approx(1.0, abs=1e-4)
    assert float(r.temperature_ratio_final) / tratio == pytest.approx(1.0, abs=1e-4)


def test_normalisation_switch_and_errors():
    # "as_printed" multiplies σv by 4 (docs/physics/conventions.md §8.6): more annihilation, less DM
    printed = NEAR.replace(normalisation="as_printed")
    assert float(nbe(printed).omega_h2) < 0.5 * float(nbe(NEAR).omega_h2)
    with pytest.raises(ValueError, match="method"):
        ra.relic(NEAR, method="boltzmann")
    with pytest.raises(ValueError, match="elastic"):
        kd.solve(ra.thermal_sigma_v, ra.thermal_sigma_v_2, ra.momentum_transfer_rate, NEAR, 0.49, 2.0,
                 elastic="full")


@pytest.mark.slow  # ~40 s; the as_printed switch stays tested by test_d_table1
def test_rate_factors_reproduce_as_printed_and_nbe():
    # relic_with_rate_factors: (a, b, c) = (4, ½, 0) must equal the separately coded
    # normalisation="as_printed" rates (docs/physics/conventions.md §8.6), and (1, 0, 10¹⁰)
    # the NBE of freeze_out.solve (a different system of equations) at the same x_final. Tolerances:
    # 1e-6 for the exact rescaling (same equations, solver noise only — at PRECISE;
    # at DEFAULT the round-off of a differently compiled solve (jit vs eager, vmap partner)
    # moves the accepted steps and Ω by up to 4e-6, the DEFAULT error being ~6e-5 here; PRECISE: 2e-8);
    # 2e-4 for the NBE (two different solvers, ~1e-5 each, plus the 10⁻¹⁰-level T_χ ≠ T residual).
    factors = jnp.array([[4.0, 0.5, 0.0], [1.0, 0.0, 1e10]])
    solve = jax.jit(jax.vmap(lambda f: ra.relic_with_rate_factors(NEAR, f[0], f[1], f[2],
                                                                  settings=slv.PRECISE).omega_h2))
    as_printed_by_factor, nbe_by_factor = np.asarray(solve(factors))
    printed = ra.Params(m_a=1.0, m_chi=0.49, g_agg=1.1165e-05, g_aww=1.1165e-05, g_achichi=1e-2,
                        normalisation="as_printed")
    assert as_printed_by_factor == pytest.approx(float(ra.omega_h2(printed, settings=slv.PRECISE)), rel=1e-6)
    assert nbe_by_factor == pytest.approx(float(ra.omega_h2(NEAR, method="nbe")), rel=2e-4)


def _log_jacobian(method, settings, fd_settings, step, **kw):
    """(d ln Ω/d ln θ by jacfwd at ``settings``, the same by central FD of ``fd_settings`` solves),
    θ = (m_χ, g_aγγ, g_aχχ) at NEAR."""
    names = ("m_chi", "g_agg", "g_achichi")
    theta = np.array([getattr(NEAR, n) for n in names])

    def omega(t, s):
        return ra.relic(NEAR.replace(**dict(zip(names, t, strict=True))), method, s, **kw).omega_h2

    om = jax.jit(lambda t: omega(t, fd_settings))
    o = float(om(theta))
    jac = np.asarray(jax.jit(jax.jacfwd(lambda t: omega(t, settings)))(theta)) * theta / o
    fd = []
    for i in range(3):
        up, dn = theta.copy(), theta.copy()
        up[i] *= 1 + step
        dn[i] *= 1 - step
        fd.append((float(om(up)) - float(om(dn))) / (2 * step * o))
    return jac, np.array(fd)


@pytest.mark.slow  # ~1 min: a resonant jacfwd compile and 7 tight solves
def test_nbe_jacobian_vs_finite_differences():
    # near resonance d ln Ω/d ln m_χ ≈ −72. jacfwd of the DEFAULT solve vs central FD (step 1e-5,
    # truncation ~1e-7 relative) of rtol = atol = 1e-12 solves; measured 4.4e-6 absolute: 2e-5
    tight = slv.SolverSettings(rtol=1e-12, atol=1e-12, max_steps=100_000)
    jac, fd = _log_jacobian("nbe", slv.DEFAULT, tight, 1e-5, x_final=None)
    np.testing.assert_allclose(jac, fd, rtol=0, atol=2e-5)


@pytest.mark.slow  # ~1 min: a cBE jacfwd compile and 7 PRECISE solves
def test_cbe_jacobian_vs_finite_differences():
    # the cBE's C¹ Hermite tables stop the solver below rtol ~1e-10, so PRECISE on both sides: FD
    # step 1e-4 (truncation ~1e-6 relative), FD noise (solve error)/step; measured 1.2e-5 relative
    # for m_χ (d ln Ω/d ln m_χ ≈ −55), 3e-5 absolute for g_aχχ (≈ 0): 1e-4 relative + 1e-4 absolute.
    # (At DEFAULT the Jacobian carries the DEFAULT solve's own 5e-5–1e-4 error, like Ωh² itself.)
    jac, fd = _log_jacobian("cbe", slv.PRECISE, slv.PRECISE, 1e-4)
    np.testing.assert_allclose(jac, fd, rtol=1e-4, atol=1e-4)
