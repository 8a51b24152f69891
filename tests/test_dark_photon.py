"""Dark-photon model ([C] Sec. III, docs/physics/dark-photon.md §4): published and documented numbers,
analytic limits, an explicit Dirac-matrix + scipy-quad reference for σ(ψψ → h′h′), scaling laws,
and jit/grad/vmap."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import kve
from transforms import check_transforms

from bkdm.constants import G_FERMI, HBAR_GEV_S, M_E, M_MU, M_W, M_Z
from bkdm.models import dark_photon as dp
from bkdm.models import get_model

ALPHA0 = 1.0 / 137.035999084  # docs/physics/constants.md §1.2
V_EW = (math.sqrt(2) * G_FERMI) ** -0.5  # docs/physics/constants.md §1.2, 246.2196 GeV


def make(**kw):
    base = dict(m_x=2.1, epsilon=1e-3, delta=1e-3, alpha_x=0.1, m_psi=0.5, m_hp=0.1)
    base.update(kw)
    return dp.Params(**base)


def test_registry_and_interface():
    assert get_model("dark-photon") is dp
    p = make()
    assert float(dp.mediator_mass(p)) == 2.1 and float(dp.dm_mass(p)) == 0.5
    assert set(dp.PARAMETERS) == {"m_x", "epsilon", "delta", "alpha_x", "m_psi", "m_hp", "q_s", "theta"}
    s = dp.summary(p)
    assert all(isinstance(v, float) and math.isfinite(v) for v in s.values())


# --------------------------------------------------------- docs/physics/dark-photon.md §4.4 reference numbers
# The reference numbers have 3 significant figures: tolerance = half a unit of the last quoted digit.
@pytest.mark.parametrize("m_x, br_k, br_kstar, ratio", [(2.0, 4.82e10, 7.16e10, 1.48),
                                                       (2.1, 4.36e10, 6.70e10, 1.54)])
def test_b_to_k_and_kstar_rates(m_x, br_k, br_kstar, ratio):
    p = make(m_x=m_x)
    g2 = float(dp.g_bs(p)) ** 2
    assert float(dp.br_b_to_k(p)) / g2 == pytest.approx(br_k, abs=0.005e10)
    assert float(dp.br_b_to_kstar(p)) / g2 == pytest.approx(br_kstar, abs=0.005e10)
    assert float(dp.br_b_to_kstar(p) / dp.br_b_to_k(p)) == pytest.approx(ratio, abs=0.005)


def test_kstar_helicity_content():
    p = make(m_x=2.1)
    g2 = float(dp.g_bs(p)) ** 2
    h0, hp, hm = (float(h) ** 2 / g2 for h in dp.helicity_amplitudes_kstar(p))
    # docs/physics/dark-photon.md §4.4 at 2.1 GeV, g_bs = 1 (half a unit of the last digit)
    assert h0 == pytest.approx(5.54, abs=0.005)
    assert hp == pytest.approx(0.017, abs=0.0005)
    assert hm == pytest.approx(3.35, abs=0.005)


def test_g_bs_inami_lim():
    # docs/physics/dark-photon.md §4.4: C₀(4.61) = 0.848, |g_bs| ≃ 1.39e-4 ε_Z (half a unit of the last digit)
    assert dp.X_TOP == pytest.approx(4.61, abs=0.005)
    assert float(dp.inami_lim_c0(4.61)) == pytest.approx(0.848, abs=0.0005)
    p = make()
    assert float(dp.g_bs(p) / dp.eps_z(p)) == pytest.approx(1.39e-4, abs=0.005e-4)
    # leading large-x_t behaviour C₀ → x/8 (Inami–Lim), relative O(ln x / x) = 1e-5 at x = 1e6
    assert float(dp.inami_lim_c0(1e6)) / (1e6 / 8) == pytest.approx(1.0, rel=5e-5)


def test_kstar_over_k_independent_of_g_bs():
    # [C] (47): both rates ∝ |g_bs|², so the ratio does not depend on ε, δ (1e-12: round-off)
    ref = float(dp.br_b_to_kstar(make()) / dp.br_b_to_k(make()))
    for kw in (dict(delta=3e-3), dict(delta=-2e-4, epsilon=0.0), dict(epsilon=5e-2, delta=1e-5)):
        p = make(**kw)
        assert float(dp.br_b_to_kstar(p) / dp.br_b_to_k(p)) == pytest.approx(ref, rel=1e-12)
    # and the rates scale as ε_Z² (pure δ: ε_Z ∝ δ)
    a, b = make(epsilon=0.0, delta=1e-3), make(epsilon=0.0, delta=3e-3)
    assert float(dp.br_b_to_k(b) / dp.br_b_to_k(a)) == pytest.approx(9.0, rel=1e-12)


# ---------------------------------------------------------------- X widths (docs/physics/dark-photon.md §4.3)
def test_light_lepton_limit():
    # pure kinetic mixing, m_e ≪ m_X: Γ = α ε² m_X/3. Corrections: Z admixture ε_Z/ε = t_W m_X²/m_Z²
    # shifts Γ by ≈ 3e-7 at m_X = 0.2 GeV, mass terms 6 r² ≈ 3e-10 → tolerance 1e-6.
    p = make(m_x=0.2, m_psi=0.05, m_hp=0.01, delta=0.0)
    ref = ALPHA0 * 1e-6 * 0.2 / 3
    assert float(dp.width_to_leptons(p, "e")) == pytest.approx(ref, rel=1e-6)
    # muon at 2 GeV with the exact QED mass factor √(1−4r)(1+2r); Z admixture ≈ 3.4e-5 → 1e-4
    p = make(m_x=2.0, delta=0.0)
    r = M_MU**2 / 4.0
    ref = ALPHA0 * 1e-6 * 2.0 / 3 * math.sqrt(1 - 4 * r) * (1 + 2 * r)
    assert float(dp.width_to_leptons(p, "mu")) == pytest.approx(ref, rel=1e-4)


def test_neutrino_width():
    p = make(m_x=2.0, delta=2e-3)
    ez = float(dp.eps_z(p))
    # general docs/physics/dark-photon.md §4.3 formula, massless fermion, g_V = g_A = ε_Z (g/2c_W)
    # T₃ with g/(2c_W) = m_Z/v
    g = ez * M_Z / V_EW / 2
    general = 3 * 2.0 / (12 * math.pi) * (g**2 + g**2)
    assert float(dp.width_to_neutrinos(p)) == pytest.approx(general, rel=1e-12)
    # [C] (39), docs/physics/dark-photon.md §4.3: 3 ε_Z² α m_X/(24 s_W² c_W²) with the G_F-scheme α = √2
    # G_F m_W² s_W²/π
    s2w = 1 - M_W**2 / M_Z**2
    alpha_gf = math.sqrt(2) * G_FERMI * M_W**2 * s2w / math.pi
    assert float(dp.width_to_neutrinos(p)) == pytest.approx(
        3 * ez**2 * alpha_gf * 2.0 / (24 * s2w * (1 - s2w)), rel=1e-12)


def test_hadronic_width_r_ratio():
    # pure kinetic mixing at 2 GeV: Γ_had/Γ_μμ = N_c Σ_{u,d,s} Q² (1 + α_s/π) = 2(1 + α_s(2)/π),
    # α_s(2 GeV) = 0.301 (docs/physics/constants.md §1.2, 3 digits → 3e-4 relative); m_s,
    # m_μ and Z terms < 1e-4 → 1e-3
    p = make(m_x=2.0, delta=0.0)
    ratio = float(dp.width_to_hadrons(p) / dp.width_to_leptons(p, "mu"))
    assert ratio == pytest.approx(2 * (1 + 0.301 / math.pi), rel=1e-3)


def test_width_scalings():
    # δ = 0: every SM coupling ∝ ε (ε_Z^kin ∝ ε) → SM widths ∝ ε² exactly (round-off 1e-12)
    a, b = make(delta=0.0, m_x=4.0, m_psi=1.0), make(delta=0.0, epsilon=2e-3, m_x=4.0, m_psi=1.0)
    wa, wb = dp.widths(a), dp.widths(b)
    for k in ("ee", "mumu", "tautau", "nunu", "hadrons"):
        assert float(wb[k] / wa[k]) == pytest.approx(4.0, rel=1e-12)
    # Γ(X → ψψ) ∝ g_ψ² = π α_X Q_S²
    assert float(dp.width_to_dm(make(alpha_x=0.3)) / dp.width_to_dm(make())) == pytest.approx(3.0, rel=1e-12)
    assert float(dp.width_to_dm(make(q_s=2.0, m_psi=0.5)) / dp.width_to_dm(make())) == pytest.approx(
        4.0, rel=1e-12)


def test_dm_width_threshold_beta_cubed():
    # (40): Γ = g_ψ² m_X/(24π) β³ with g_ψ = √(4πα_X) Q_S/2, down to β² = 2e-4 near threshold;
    # round-off in 1 − 4m²/M² is ≤ 1e-16/β² ≈ 5e-13 relative → tolerance 1e-10
    m_x, alpha_x = 2.0, 0.2
    g2 = 4 * math.pi * alpha_x / 4
    for m_psi in (0.9, 0.99, 0.9999):
        beta = math.sqrt(1 - 4 * m_psi**2 / m_x**2)
        ref = g2 * m_x / (24 * math.pi) * beta**3
        assert float(dp.width_to_dm(make(m_x=m_x, alpha_x=alpha_x, m_psi=m_psi))) == pytest.approx(
            ref, rel=1e-10)


def test_invisible_fraction_and_prompt_decay():
    p = make()
    w = dp.widths(p)
    tot = float(dp.total_width(p))
    assert float(dp.invisible_fraction(p)) == pytest.approx(float(w["psipsi"] + w["nunu"]) / tot, rel=1e-14)
    # [C]: BR(X → ψψ) effectively 100 % for α_X ~ 0.1, ε ~ 1e-3 (non-ε-suppressed width)
    assert float(dp.invisible_fraction(p)) > 0.9999
    assert float(dp.decay_length(p)) == pytest.approx(1.973269804e-16 / tot, rel=1e-14)
    assert float(dp.br_b_to_k_invisible(p)) == pytest.approx(
        float(dp.br_b_to_k(p) * dp.invisible_fraction(p)), rel=1e-14)


# --------------------------------------------------------------- ψψ → h′h′ (docs/physics/dark-photon.md §4.5)
def test_pwave_coefficient_spec_numbers():
    # docs/validation.md §7.18: σv_rel/(y⁴v²/m²) = 3/(128π) at r = 0 (r = 1e-4 here: O(r²) = 1e-8 → rel 1e-7)
    p = make(m_x=3.0, m_psi=1.0, m_hp=1e-4)
    assert float(dp.sigma_v_rel_pwave_coefficient(p) / dp.y_psi(p) ** 4) == pytest.approx(
        3 / (128 * math.pi), rel=1e-7)
    p = make(m_x=3.0, m_psi=1.0, m_hp=0.5)  # 8.726e-3 at r = 0.5 (half a unit of the last digit)
    assert float(dp.sigma_v_rel_pwave_coefficient(p) / dp.y_psi(p) ** 4) == pytest.approx(8.726e-3, abs=5e-7)
    # ⟨σv⟩ ≈ b ⟨v_rel²⟩ = 6b/x
    assert float(dp.sigma_v_thermal_nr(p, 20.0)) == pytest.approx(
        6 / 20 * float(dp.sigma_v_rel_pwave_coefficient(p)), rel=1e-14)


@pytest.mark.parametrize("r", [1e-4, 0.5])
def test_exact_sigma_nr_limit(r):
    # σ·v_rel with v_rel = 2β_i (CM), s = 4m²/(1 − v²/4); relative correction O(v²) ≈ 4e-7 at v = 1e-3
    p = make(m_x=3.0, m_psi=1.0, m_hp=r)
    v = 1e-3
    s = 4.0 / (1 - v * v / 4)
    sv = float(dp.sigma_annihilation(p, s)) * v
    assert sv / v**2 == pytest.approx(float(dp.sigma_v_rel_pwave_coefficient(p)), rel=1e-5)


# explicit Dirac matrices (Dirac representation) for an independent Σ|M|²
_SIG = [np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.array([[1, 0], [0, -1]])]
_Z2 = np.zeros((2, 2))
_GAMMA = [np.diag([1, 1, -1, -1]).astype(complex)] + [np.block([[_Z2, s], [-s, _Z2]]) for s in _SIG]
_I4 = np.eye(4)


def _slash(q):
    return q[0] * _GAMMA[0] - q[1] * _GAMMA[1] - q[2] * _GAMMA[2] - q[3] * _GAMMA[3]


def _mdot(a, b):
    return a[0] * b[0] - a[1:] @ b[1:]


def _sum_m2(s, c, m, mh):
    """Σ_spins |M|²/y⁴ = Tr[(p̸₂ − m) Γ (p̸₁ + m) Γ], Γ = Σ_{t,u} (p̸₁ − k̸ + m)/((p₁−k)² − m²), CM frame."""
    e = math.sqrt(s) / 2
    p, k, sn = math.sqrt(e * e - m * m), math.sqrt(e * e - mh * mh), math.sqrt(1 - c * c)
    p1, p2 = np.array([e, 0, 0, p]), np.array([e, 0, 0, -p])
    k1, k2 = np.array([e, k * sn, 0, k * c]), np.array([e, -k * sn, 0, -k * c])
    gam = sum((_slash(p1 - kk) + m * _I4) / (_mdot(p1 - kk, p1 - kk) - m * m) for kk in (k1, k2))
    return np.trace((_slash(p2) - m * _I4) @ gam @ (_slash(p1) + m * _I4) @ gam).real


def _sigma_reference(s, m, mh, y):
    """σ = ¼ · ½ · ∫dΩ Σ|M|² |k|/(64π² s |p|), scipy quad over cos θ."""
    e = math.sqrt(s) / 2
    kp = math.sqrt(e * e - mh * mh) / math.sqrt(e * e - m * m)
    integral = quad(lambda c: _sum_m2(s, c, m, mh), -1, 1, epsabs=0, epsrel=1e-12, limit=200)[0]
    return y**4 / 8 * kp / (64 * math.pi**2 * s) * 2 * math.pi * integral


@pytest.mark.parametrize("s", [4.0001, 4.1, 5.0, 10.0, 100.0, 1e4])
def test_exact_sigma_vs_dirac_trace_quadrature(s):
    # quad epsrel 1e-12; near threshold the closed form's s-wave cancellation is done analytically,
    # measured agreement ≤ 5e-12 → tolerance 1e-10
    p = make(m_x=3.0, m_psi=1.0, m_hp=0.5, alpha_x=0.3)
    ref = _sigma_reference(s, 1.0, 0.5, float(dp.y_psi(p)))
    assert float(dp.sigma_annihilation(p, s)) == pytest.approx(ref, rel=1e-10)


def test_thermal_average_of_exact_sigma_approaches_6b_over_x():
    # Gondolo–Gelmini ⟨σv⟩ = ∫ σ (s − 4m²) √s K₁(√s/T) ds / (8 m⁴ T K₂(x)²), written in u = √s/T − 2x.
    # Relativistic corrections are O(1/x): measured (⟨σv⟩/(6b/x) − 1)·x ≈ −6.0 → tolerance 7/x.
    p = make(m_x=3.0, m_psi=1.0, m_hp=0.5, alpha_x=0.3)
    sig = jax.jit(lambda s: dp.sigma_annihilation(p, s))
    for x in (1e3, 1e4):
        t = 1.0 / x

        def integrand(u, t=t, x=x):
            rs = t * (u + 2 * x)
            jacobian = 2 * t * t * (u + 2 * x)  # ds/du
            return float(sig(rs * rs)) * (rs * rs - 4) * rs * kve(1, rs / t) * math.exp(-u) * jacobian

        gg = quad(integrand, 0, 80, epsabs=0, epsrel=1e-10, limit=200)[0] / (8 * t * kve(2, x) ** 2)
        assert abs(gg / float(dp.sigma_v_thermal_nr(p, x)) - 1) < 7 / x


# ------------------------------------------------ h′, direct detection (docs/physics/dark-photon.md §4.6–4.7)
def test_dark_higgs_width_and_lifetime():
    p = make(m_hp=0.01, m_psi=0.05, m_x=0.2, theta=1e-4)
    beta = math.sqrt(1 - 4 * M_E**2 / 0.01**2)
    ref = 1e-8 * M_E**2 * 0.01 / (8 * math.pi * V_EW**2) * beta**3  # (50)
    assert float(dp.width_hp_to_ee(p)) == pytest.approx(ref, rel=1e-6)  # v to 7 digits
    assert float(dp.lifetime_hp(p)) == pytest.approx(HBAR_GEV_S / float(dp.width_hp_to_ee(p)), rel=1e-14)
    assert float(dp.lifetime_hp(p.replace(theta=0.0))) == np.inf
    g = jax.grad(lambda th: dp.lifetime_hp(p.replace(theta=th)))(0.0)
    assert np.isfinite(float(g))


def test_nucleon_couplings_and_dd_cross_sections():
    p = make(delta=2e-3)
    ez = float(dp.eps_z(p))
    s2w = 1 - M_W**2 / M_Z**2
    gz = M_Z / V_EW  # g/(2c_W)
    f_p, f_n = (float(f) for f in dp.nucleon_couplings(p))
    e = math.sqrt(4 * math.pi * ALPHA0)
    assert f_p == pytest.approx(1e-3 * e + ez * gz * (0.5 - 2 * s2w), rel=1e-12)  # (52)
    assert f_n == pytest.approx(-ez * gz / 2, rel=1e-12)
    # photon-dominated limit (δ = 0, [C]: "dominated by the first term"): F_N → Z ε e; Z-part
    # corrections ~ ε_Z^kin/ε ~ 1e-4 relative → 1e-3
    p = make(delta=0.0)
    gpsi2 = math.pi * 0.1
    mn = 131 * 0.93149410242
    mu = 0.5 * mn / (0.5 + mn)
    ref = gpsi2 * mu**2 * 1e-6 * (54 * 1e-3 * e) ** 2 / (2 * math.pi * 2.1**4)  # (53), v = 1e-3
    assert float(dp.sigma_dm_nucleus(p, 131, 54, 1e-3)) == pytest.approx(ref, rel=1e-3)
    mu_e = 0.5 * M_E / (0.5 + M_E)
    ref_e = gpsi2 * mu_e**2 * 1e-6 * (1e-3 * e) ** 2 / (2 * math.pi * 2.1**4)  # (55)
    assert float(dp.sigma_dm_electron(p, 1e-3)) == pytest.approx(ref_e, rel=1e-3)
    assert float(dp.sigma_self_interaction(p)) == pytest.approx(gpsi2**2 * 0.25 / (4 * math.pi * 2.1**4),
                                                                rel=1e-12)


# ------------------------------------------------------------------ validation and closed channels
@pytest.mark.parametrize("kw, name", [
    (dict(m_hp=0.6), "m_hp"), (dict(m_hp=0.0), "m_hp"), (dict(m_psi=1.2), "m_psi"),
    (dict(alpha_x=-0.1), "alpha_x"), (dict(epsilon=-1e-3), "epsilon"), (dict(m_x=-1.0), "m_x"),
    (dict(theta=-1.0), "theta"), (dict(q_s=0.0), "q_s"), (dict(delta=np.nan), "delta"),
])
def test_invalid_parameters(kw, name):
    with pytest.raises(ValueError, match=name):
        make(**kw)


def test_closed_channels():
    p = make(m_x=4.5, m_psi=1.0)  # K* closed (m_B − m_K* = 4.388), K open
    with pytest.raises(ValueError, match="m_x"):
        dp.br_b_to_kstar(p)
    with pytest.raises(ValueError, match="m_x"):
        dp.helicity_amplitudes_kstar(p)
    with pytest.raises(ValueError, match="m_x"):
        dp.br_b_to_k(make(m_x=4.9, m_psi=1.0))
    with pytest.raises(ValueError, match="m_hp"):
        dp.lifetime_hp(make(m_hp=5e-4, m_psi=0.01, m_x=0.1, theta=1e-3))

    def at(f, m_x):
        return jax.jit(jax.value_and_grad(lambda m: f(make(m_x=m, m_psi=1.0))))(m_x)

    for f, m_x in ((dp.br_b_to_kstar, 4.5), (dp.br_b_to_k, 4.9), (dp.br_b_to_k_invisible, 6.0),
                   (lambda q: dp.width_to_leptons(q, "tau"), 3.0)):
        val, grad = at(f, m_x)
        assert float(val) == 0.0 and np.isfinite(float(grad))
    # X → ψψ closed (only reachable under jit: eager validation forbids m_psi ≥ m_x/2)
    val, grad = jax.jit(jax.value_and_grad(lambda m: dp.width_to_dm(make(m_psi=m, m_x=1.9))))(1.0)
    assert float(val) == 0.0 and np.isfinite(float(grad))
    val, grad = jax.value_and_grad(lambda s: dp.sigma_annihilation(make(m_psi=1.0, m_x=3.0), s))(3.9)
    assert float(val) == 0.0 and float(grad) == 0.0


# ------------------------------------------------------------------ transforms
@pytest.mark.parametrize("f, x", [
    (lambda m: dp.total_width(make(m_x=m)), 2.1),
    (lambda m: dp.br_b_to_k_invisible(make(m_x=m)), 2.1),
    (lambda m: dp.br_b_to_kstar(make(m_x=m)), 2.0),
    (lambda d: dp.invisible_fraction(make(delta=d, alpha_x=1e-9)), 3e-3),
    (lambda m: dp.sigma_annihilation(make(m_x=3.0, m_psi=m, m_hp=0.5), 5.0), 1.0),
    (lambda s: dp.sigma_annihilation(make(m_x=3.0, m_psi=1.0, m_hp=0.5), s), 4.05),
    (lambda r: dp.sigma_v_thermal_nr(make(m_hp=r), 20.0), 0.2),
    (lambda th: dp.lifetime_hp(make(m_hp=0.01, m_psi=0.05, m_x=0.2, theta=th)), 1e-4),
    (lambda v: dp.sigma_dm_nucleus(make(), 131.0, 54.0, v), 1e-3),
])
def test_jit_grad_vmap(f, x):
    check_transforms(f, x)


def test_vmap_over_params():
    m_x = np.array([1.8, 2.1, 2.7])
    batch = dp.Params(m_x=m_x, epsilon=np.full(3, 1e-3), delta=np.array([1e-3, 2e-3, 5e-4]),
                      alpha_x=np.array([0.05, 0.1, 0.2]), m_psi=np.array([0.4, 0.5, 0.6]),
                      m_hp=np.array([0.1, 0.1, 0.2]), q_s=np.ones(3), theta=np.zeros(3))
    for f in (dp.br_b_to_k_invisible, dp.br_b_to_kstar, dp.total_width, dp.sigma_v_rel_pwave_coefficient):
        vec = np.asarray(jax.vmap(f)(batch))
        loop = [float(f(jax.tree.map(lambda a, i=i: a[i], batch))) for i in range(3)]
        np.testing.assert_allclose(vec, loop, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.jit(dp.br_b_to_k)(batch)),
                               [float(dp.br_b_to_k(make(m_x=m, delta=d, alpha_x=a, m_psi=mp, m_hp=mh)))
                                for m, d, a, mp, mh in zip(m_x, [1e-3, 2e-3, 5e-4], [0.05, 0.1, 0.2],
                                                           [0.4, 0.5, 0.6], [0.1, 0.1, 0.2], strict=True)],
                               rtol=1e-12)
    assert jnp.shape(dp.invisible_fraction(batch)) == (3,)
