"""ALP freeze-in ([C] (27)–(28)): independent scipy Radau reference, the analytic freeze-in limit
(docs/physics/alp-freeze-in.md §3.7, docs/validation.md §7.13), scaling laws, insensitivity to the initial
state, transforms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bkdm import constants as c
from bkdm.cosmo import reference as ref
from bkdm.cosmo import solver as slv
from bkdm.models import alp

BENCH = alp.Params.universal(m_a=2.1, f_a=1.5e8, c_q=1.0, c_sb_v=1.0, c_chi=1.0, m_chi=1e-3)
relic = jax.jit(lambda p: alp.relic(p))
relic_precise = jax.jit(lambda p: alp.relic(p, slv.PRECISE))


def test_matches_scipy_radau():
    # Radau (rtol 1e-10) in plain (Y_a, Y_χ) on a spline of the same production rate; independent
    # g_*, ⟨Γ⟩ (scipy kve), time stepping. Issue: ≤ 1e-4; measured 7e-7.
    r = relic_precise(BENCH)
    lp = jax.jit(jax.vmap(lambda T: alp.log_production_rate(T, BENCH)))
    w_dm = float(alp.width_to_dm(BENCH))
    w_sm = float(alp.total_width(BENCH)) - w_dm
    om, _ = ref.freeze_in(lambda T: np.asarray(lp(jnp.asarray(T))), 2.1, 1.0, 1e-3, 4.0, w_sm, w_dm,
                          alp.T_START, float(r.x_end),
                          window=lambda T: np.asarray(alp.quark_plasma_fraction(jnp.asarray(T))))
    assert abs(float(r.omega_h2) / om - 1) < 1e-5


@pytest.mark.slow  # ~45 s for an expected failure (issue 21 item 1, open): kept out of the default suite
@pytest.mark.xfail(strict=True, reason="since the merge of main (hadronic ALP widths) this point ends at "
                   "status 1 (max_steps, NaN: reported, not silent); passed before the merge at 8e-8 — open")
def test_dm_depleted_by_inverse_decays_matches_radau():
    # Issue 21 item 1: couplings so large that χ thermalises (f_a = 1334 GeV) with m_χ → m_a/2, so that
    # χχ̄ → a depletes it by ~10⁷ after its peak. The linear yields of bkdm ≤ 2026-12-07 undershot to
    # Ωh² = −1.5 … −2376 at status 0. Reference: Radau in plain yields (rtol 1e-10, atol 1e-40) from
    # equilibrium at T = m_a/0.05 (the rates exceed H by ~10⁸ there, so the start is forgotten; from
    # T = m_a/0.2: same to 1e-14). Measured 8e-8; 1e-5 allows the DEFAULT tolerances.
    m_a = 0.197
    p = alp.Params.universal(m_a=m_a, f_a=1334.0, c_q=1.0, c_sb_v=0.0, c_chi=1.0, m_chi=0.49999 * m_a)
    r = relic(p)
    lp = jax.jit(jax.vmap(lambda T: alp.log_production_rate(T, p)))
    w_dm = float(alp.width_to_dm(p))
    w_sm = float(alp.total_width(p)) - w_dm
    om, _ = ref.freeze_in(lambda T: np.asarray(lp(jnp.asarray(T))), m_a, 1.0, float(p.m_chi), 4.0, w_sm, w_dm,
                          m_a / 0.05, float(r.x_end), equilibrium_start=True,
                          window=lambda T: np.asarray(alp.quark_plasma_fraction(jnp.asarray(T))))
    assert int(r.status) == 0 and float(r.omega_h2) > 0
    assert float(r.omega_h2) / om == pytest.approx(1.0, abs=1e-5)


def test_no_dark_matter_coupling_no_dark_matter():
    # Γ(a → χχ̄) = 0 (c_χ = 0): no χ at all, Ωh² = 0 exactly (was ≈ ±1e-280 of round-off)
    r = relic(BENCH.replace(c_chi=0.0))
    assert int(r.status) == 0 and float(r.omega_h2) == 0.0


def test_zero_quark_coupling_is_solved():
    # Issue 21 item 2: at c_q = 0 the relic Jacobian was NaN (ln of a vanishing scattering rate), and a
    # floor on the production *density* then made Γ_prod = P/n_a^eq enormous at x ≳ 10³ (max_steps).
    # Now a finite, positive Ωh² at status 0 (production by b → s a only, c_sb_v = 1; 59.59 measured,
    # the 59.6 of the linear-yield solver of issue 21); its Jacobian is checked in tests/test_properties.py
    # (c_q = 0 is one of its anchors). Not checked: the c_q → 0 limit — c_q = 1e-12, 1e-9, 1e-6 give
    # 54.13, 58.07, 59.03 at PRECISE (open: issue 21 report).
    r = relic(alp.Params.universal(m_a=2.1, f_a=1.5e8, c_q=0.0, c_sb_v=1.0, c_chi=1.0, m_chi=1e-3))
    assert int(r.status) == 0 and np.isfinite(float(r.omega_h2)) and float(r.omega_h2) > 0


def test_late_decays_of_frozen_out_alps_explain_the_rise_with_f_a():
    # Issue 21 item 6: at m_a = 2.1 GeV Ωh² rises with f_a between 3e8 and 8e8 GeV (+47 % from 4e8 to
    # 7e8). Explanation: the ALP's own production rate ∝ f_a⁻² falls below H at x ~ 3–5, so the ALPs
    # freeze out with Y_a ≫ Y_a^eq and decay later; a fraction BR(a → χχ̄) of them (independent of f_a)
    # gives DM, 2 BR Y_a(x*) per ALP left at x*, and Y_a(x*) grows with f_a as decoupling moves
    # earlier — this overtakes the equilibrium freeze-in part ∝ Γ(a → χχ̄) ∝ f_a⁻². Check of the
    # explanation by particle counting: after the first saved x* with Y_a > 100 Y_a^eq, the DM gained
    # equals 2 BR(a → χχ̄) Y_a(x*) (measured 0.965 and 0.965 at 5e8 and 7e8 GeV: the rest of the ALPs is
    # removed by inverse scatterings q a → q g while Y_a > Y_a^eq), and that share is what grows.
    def one(fa):
        p = alp.Params.universal(m_a=2.1, f_a=fa, c_q=1.0, c_sb_v=1.0, c_chi=1.0, m_chi=1e-3)
        r = alp.relic(p, history=200)
        return (r.omega_h2, r.yield_mediator_history, r.yield_mediator_eq_history, r.yield_dm_history,
                alp.width_to_dm(p) / alp.total_width(p))

    om, ya, ya_eq, yx, br = (np.asarray(v) for v in jax.jit(jax.vmap(one))(jnp.array([4e8, 5e8, 7e8])))
    assert om[2] / om[0] > 1.3  # the feature: 1.42 measured (4e8 → 7e8)
    late = []
    for i in (1, 2):
        k = int(np.argmax(ya[i] > 100.0 * ya_eq[i]))
        gained, predicted = yx[i, -1] - yx[i, k], 2.0 * br[i] * ya[i, k]
        assert 0.9 < gained / predicted <= 1.0
        late.append(gained / yx[i, -1])
    assert 0.3 < late[0] < late[1]  # the late-decay share grows with f_a (0.47 → 0.74 measured)


def test_analytic_limit_for_an_equilibrium_alp():
    # With the ALP held in equilibrium (quark couplings ×100 via f_a/100, c_χ/100 keeps Γ(a→χχ̄)),
    # Y_χ → the decay freeze-in estimate of docs/physics/alp-freeze-in.md §3.7, up to the variation of
    # g_* over T ~ m_a/3 that the estimate freezes (docs/validation.md §7.13: 10–20 %). Measured 1.05.
    p = BENCH.replace(f_a=1.5e6, c_chi=0.01)
    r = relic(p)
    assert 1.0 < float(r.yield_dm / r.yield_estimate) < 1.2
    # the benchmark itself: the ALP lags equilibrium around x ~ 5 (lower rates), more DM (1.25)
    assert 1.15 < float(relic(BENCH).yield_dm / relic(BENCH).yield_estimate) < 1.35


def test_scaling_laws():
    # Y_χ ∝ Γ(a→χχ̄) ∝ c_χ² m_χ² (m_χ ≪ m_a), so Ωh² ∝ c_χ² m_χ³
    # (docs/physics/alp-freeze-in.md §3.7); the only breaking is Γ_χ's share of Γ_a (4e-6)
    # and the β factor of (12) (2e-6 at m_χ = 2 MeV).
    base = float(relic(BENCH).omega_h2)
    assert float(relic(BENCH.replace(c_chi=2.0)).omega_h2) / base == pytest.approx(4.0, rel=2e-5)
    assert float(relic(BENCH.replace(m_chi=2e-3)).omega_h2) / base == pytest.approx(8.0, rel=2e-5)


@pytest.mark.slow  # ~35 s; the freeze-in solve is checked against scipy Radau in the default suite
def test_insensitive_to_initial_state():
    # the ALP thermalises (rates/H ~ 3–50 above T ~ 1 GeV), so the start temperature and whether
    # Y_a starts at 0 or at equilibrium matter at < 1e-4 (measured 1e-5 and 3e-7).
    base = float(relic(BENCH).omega_h2)
    f50 = jax.jit(lambda p: alp.relic(p, t_start=50.0))
    feq = jax.jit(lambda p: alp.relic(p, initial="equilibrium"))
    assert float(f50(BENCH).omega_h2) / base == pytest.approx(1.0, abs=1e-4)
    assert float(feq(BENCH).omega_h2) / base == pytest.approx(1.0, abs=1e-4)


def test_continuous_across_the_charm_threshold():
    # At m_a = 2m_c the channel a → c c̄ opens with Γ ∝ β = √(1 − 4m_c²/m_a²) ([C] (13)): Ωh² must be
    # continuous there, with a √ cusp |ΔΩ/Ω| ≲ β. At m_a = 2m_c ± 1e-7 GeV, β = 2.8e-4; the measured
    # change is 2e-4 (Γ_cc̄ is most of Γ_a at the benchmark), so 1e-3 allows it and still fails the
    # 1.7 % jump that a q q̄ → g a soft-gluon cut applied only above 2m_q produced (bkdm ≤ 2026-11-21).
    m_cc = 2 * dict(zip(c.QUARKS, c.QUARK_MASSES, strict=True))["c"]
    below, above = (float(relic(BENCH.replace(m_a=m_cc + d)).omega_h2) for d in (-1e-7, 1e-7))
    assert above / below == pytest.approx(1.0, abs=1e-3)


def test_forward_mode_gradient_vs_finite_difference():
    fwd = slv.SolverSettings(forward_mode=True)
    g = float(jax.jit(jax.jacfwd(lambda fa: alp.relic(BENCH.replace(f_a=fa), fwd).omega_h2))(1.5e8))
    h = 1e-3 * 1.5e8
    fd = (float(relic_precise(BENCH.replace(f_a=1.5e8 + h)).omega_h2)
          - float(relic_precise(BENCH.replace(f_a=1.5e8 - h)).omega_h2)) / (2 * h)
    # AD of the DEFAULT solve vs FD of PRECISE solves (step 1e-3: truncation 1e-6): 1e-4
    assert g == pytest.approx(fd, rel=1e-4)


# ~70 s: the ALP relic gradient stays in the default suite (test_forward_mode_gradient_vs_finite_difference)
@pytest.mark.slow
def test_gradient_above_the_b_to_s_a_threshold():
    # m_a ≥ m_b closes b → s a (a −∞ log-rate term): its tangent must be 0, not 0/0 (the fits' m_a
    # prior reaches 4.6 GeV). AD of a DEFAULT solve vs central FD (step 1e-4 m_a, truncation ~1e-8)
    # of rtol = atol = 1e-12 solves (at PRECISE the FD itself is off by 5e-6: the derivative of the
    # solve's error); measured 1.1e-5 (the 64 tangent panels, 1e-7 with 256): 1e-4 as above
    tight = slv.SolverSettings(rtol=1e-12, atol=1e-12, max_steps=100_000)
    p0 = BENCH.replace(m_a=4.3, f_a=2e9, m_chi=0.05)
    g = float(jax.jit(jax.grad(lambda m: alp.relic(p0.replace(m_a=m)).omega_h2))(4.3))
    h = 1e-4 * 4.3
    om = jax.jit(lambda p: alp.relic(p, tight).omega_h2)
    fd = (float(om(p0.replace(m_a=4.3 + h))) - float(om(p0.replace(m_a=4.3 - h)))) / (2 * h)
    assert np.isfinite(g) and g == pytest.approx(fd, rel=1e-4)


def test_vmap_and_errors():
    cs = jnp.asarray([0.5, 1.0, 2.0])
    batched = jax.vmap(lambda cc: relic(BENCH.replace(c_chi=cc)).omega_h2)(cs)
    loop = [float(relic(BENCH.replace(c_chi=float(cc))).omega_h2) for cc in cs]
    np.testing.assert_allclose(np.asarray(batched), loop, rtol=1e-9)
    assert float(alp.omega_h2(BENCH)) == pytest.approx(float(relic(BENCH).omega_h2), rel=1e-12)
    with pytest.raises(slv.SolverError):
        alp.omega_h2(BENCH, slv.SolverSettings(max_steps=4))
    with pytest.raises(ValueError, match="initial"):
        alp.relic(BENCH, initial="hot")


@pytest.mark.slow
def test_saved_mediator_history_matches_scipy_radau():
    # The Y_a(x) history of a plot (history > 0: atol ≤ HISTORY_ATOL) against Radau's dense output in
    # plain yields (rtol 1e-10, atol 1e-30 on Y_a) wherever Y_a exceeds 10³ × the reported floor (down
    # to Y_a ~ 1e-15 at x = 35): measured 1.3e-4 at most (at x ≈ 7, where Y_a falls fastest and the two
    # codes' interpolations of the production rate differ), → 3e-4. At the default atol (1e-6) the
    # saved Y_a was negative from x ≈ 28 on (bkdm ≤ 2026-12: the noise of the CLI's yield plot).
    r = jax.jit(lambda p: alp.relic(p, history=60))(BENCH)
    x = np.asarray(r.x_history)
    lp = jax.jit(jax.vmap(lambda T: alp.log_production_rate(T, BENCH)))
    w_dm = float(alp.width_to_dm(BENCH))
    w_sm = float(alp.total_width(BENCH)) - w_dm
    *_, ys = ref.freeze_in(lambda T: np.asarray(lp(jnp.asarray(T))), 2.1, 1.0, 1e-3, 4.0, w_sm, w_dm,
                           alp.T_START, float(r.x_end), x_eval=x,
                           window=lambda T: np.asarray(alp.quark_plasma_fraction(jnp.asarray(T))))
    y_a = np.asarray(r.yield_mediator_history)
    resolved = y_a > 1e3 * float(r.yield_mediator_floor)
    assert x[resolved].max() > 30.0  # resolved well past the mediator's decay (Y_a ~ 1e-13 there)
    np.testing.assert_allclose(y_a[resolved], ys[0][resolved], rtol=3e-4)
