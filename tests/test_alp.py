"""ALP portal of [C] (bkdm.models.alp) against independent references: docs/physics/alp.md §2.2/§2.7,
docs/validation.md §7 numbers (derived independently with plain numpy), mpmath evaluations of
the loop function, scipy quadrature of the spin-summed traces of docs/physics/alp-freeze-in.md §3.2 written
out here, an explicit Dirac-matrix trace for b → s a, analytic limits and scaling laws."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from scipy.integrate import quad
from transforms import check_transforms

from bkdm import constants as c
from bkdm.models import alp, alp_hadronic, get_model
from bkdm.qcd import alpha_s

# docs/physics/alp.md §2.7 illustrative point (an independent numpy/scipy calculation)
BENCH = dict(m_a=2.1, f_a=1.5e8, c_q=1.0, c_sb_v=1.0, c_chi=1.0, m_chi=1e-3)


@pytest.fixture(scope="module")
def bench():
    return alp.Params.universal(**BENCH)


def assert_quoted(value, quoted):
    """|value − quoted| ≤ half a unit of the last quoted digit ("9.70e-20", "0.988", "234")."""
    mantissa = quoted.lower().split("e")[0]
    exponent = int(quoted.lower().split("e")[1]) if "e" in quoted.lower() else 0
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    half_unit = 0.5 * 10.0 ** (exponent - decimals)
    assert abs(float(value) - float(quoted)) <= half_unit * (1 + 1e-9), (float(value), quoted)


# ------------------------------------------------------------------ interface
def test_registry_and_parameters():
    assert get_model("alp") is alp and alp.NAME == "alp"
    fields = {f.name for f in dataclasses.fields(alp.Params)}
    assert fields == set(alp.PARAMETERS)
    p = alp.Params.universal(**BENCH)
    assert float(alp.mediator_mass(p)) == 2.1 and float(alp.dm_mass(p)) == 1e-3
    assert all(float(getattr(p, f"c_{q}{q}")) == 1.0 for q in c.QUARKS)
    assert float(p.detector_length) == c.DETECTOR_LENGTH_C and float(p.c_ee) == 0.0
    assert set(alp.widths(p)) == {"chichi", "uu", "dd", "ss", "cc", "bb", "gg", "gamgam", "ee", "mumu",
                                  "tautau", *alp_hadronic.CHANNELS}


@pytest.mark.parametrize("changes, name", [
    (dict(f_a=-1.0), "f_a"), (dict(m_a=0.0), "m_a"), (dict(m_chi=1.05), "m_chi"),
    (dict(m_chi=2.0), "m_chi"), (dict(c_chi=-1.0), "c_chi"), (dict(c_sb_v=-0.1), "c_sb_v"),
    (dict(detector_length=0.0), "detector_length"),
])
def test_validation_names_parameter(changes, name):
    with pytest.raises(ValueError, match=name):
        alp.Params.universal(**{**BENCH, **changes})


def test_closed_b_decay_raises_eagerly_and_is_zero_under_jit(bench):
    p = bench.replace(m_a=4.9)  # > m_B − m_K = 4.7857 GeV
    with pytest.raises(ValueError, match="m_a"):
        alp.br_b_to_k(p)
    with pytest.raises(ValueError, match="m_a"):
        alp.br_b_to_kstar(bench.replace(m_a=4.5))  # > m_B − m_K* = 4.3877 GeV
    both = jax.jit(lambda m: alp.br_b_to_k_invisible(bench.replace(m_a=m)) + alp.br_b_to_kstar(
        bench.replace(m_a=m, c_sb_a=1.0)))
    value, grad = jax.value_and_grad(both)(4.9)
    assert float(value) == 0.0 and float(grad) == 0.0
    summ = alp.summary(p)  # summary reports closed channels as 0
    assert summ["BR(B+->K+ a)"] == 0.0 and summ["BR(B+->K+ inv)"] == 0.0


# ------------------------------------------------------------------ loop function, effective couplings
def _b1_mpmath(tau):
    tau = mp.mpf(tau)
    if tau >= 1:
        f = mp.asin(1 / mp.sqrt(tau))
    else:
        r = mp.sqrt(1 - tau)
        f = mp.pi / 2 + 0.5j * mp.log((1 + r) / (1 - r))
    return complex(1 - tau * f**2)


@pytest.mark.parametrize("tau", [1e-8, 1e-3, 0.3, 0.999, 1.0, 1.001, 3.0, 100.0, 1e4])
def test_b1_vs_mpmath(tau):
    mp.mp.dps = 40
    # rtol 1e-10: double-precision round-off amplified by the cancellation in 1 − τf² ≈ 1/(3τ)
    # (≈ 1e-16·3τ ≤ 3e-12 at τ = 1e4)
    np.testing.assert_allclose(complex(alp.loop_function_b1(tau)), _b1_mpmath(tau), rtol=1e-10)


def test_b1_limits():
    # m_f ≪ m_a: |B₁ − 1| ~ τ ln²τ /4 ≈ 2e-10 at τ = 1e-12
    assert abs(complex(alp.loop_function_b1(1e-12)) - 1.0) < 1e-9
    assert complex(alp.loop_function_b1(0.0)) == 1.0
    # m_f ≫ m_a: B₁ = −1/(3τ)(1 + 8/(15τ) + …), tolerance 2× the first correction
    for tau in (1e3, 1e5):
        b1 = complex(alp.loop_function_b1(tau))
        assert b1.imag == 0.0
        assert abs(b1.real * (-3 * tau) - 1) < 2 * 8 / (15 * tau)
    assert complex(alp.loop_function_b1(1.0)) == pytest.approx(1 - math.pi**2 / 4, rel=1e-15)


def test_b1_gradients_safe():
    for part in (jnp.real, jnp.imag):
        f = lambda t, part=part: part(alp.loop_function_b1(t))
        for tau in (0.5, 2.0):
            check_transforms(f, tau)
        for tau in (0.0, 1.0):  # branch points: finite (not NaN)
            assert np.isfinite(float(jax.grad(f)(tau)))


# docs/physics/alp.md §2.2 at m_a = 2 GeV (an independent numpy/scipy calculation):
# quoted to 4 decimals → half-unit 5e-5
B1_REF = {"u": 1.0002 - 0.0001j, "s": 1.0603 - 0.0841j, "c": -0.3231, "b": -0.0197, "t": -1e-5}


@pytest.mark.parametrize("q", list(B1_REF))
def test_b1_spec_values(q):
    m = dict(zip(c.QUARKS, c.QUARK_MASSES, strict=True))[q]
    b1 = complex(alp.loop_function_b1(4 * m**2 / 2.0**2))
    assert abs(b1.real - B1_REF[q].real) <= 5e-5 and abs(b1.imag - complex(B1_REF[q]).imag) <= 5e-5


@pytest.mark.parametrize("m_a, gluon, photon", [(2.0, 1.3593 - 0.0423j, 1.5833 - 0.0283j),
                                                 (2.1, 1.3268 - 0.0390j, 1.5020 - 0.0261j)])
def test_effective_couplings_spec(m_a, gluon, photon):
    p = alp.Params.universal(**{**BENCH, "m_a": m_a})
    for got, ref in ((complex(alp.c_eff_gluon(p)), gluon), (complex(alp.c_eff_photon(p)), photon)):
        assert abs(got.real - ref.real) <= 5e-5 and abs(got.imag - ref.imag) <= 5e-5  # 4 decimals


def test_leptons_enter_photon_coupling(bench):
    # one muon loop adds c_μμ B₁(4m_μ²/m_a²) (N_c = 1, Q² = 1) and nothing to c_GG
    p = bench.replace(c_mumu=2.0)
    diff = complex(alp.c_eff_photon(p)) - complex(alp.c_eff_photon(bench))
    np.testing.assert_allclose(diff, 2.0 * _b1_mpmath(4 * c.M_MU**2 / 2.1**2), rtol=1e-12)
    assert complex(alp.c_eff_gluon(p)) == complex(alp.c_eff_gluon(bench))
    assert float(alp.width_to_lepton_pair(p, "mu")) > 0.0 and float(alp.width_to_lepton_pair(p, "tau")) == 0.0


# ---------------------------------------------------------------- docs/physics/alp.md §2.7 illustrative point
@pytest.fixture
def partonic_only(monkeypatch):
    """docs/physics/alp.md §2.7 quotes [C]'s purely partonic widths; m_a = 2.1 GeV lies inside bkdm's
    hadronic → partonic transition (docs/physics/alp-hadronic.md §2.8.5), so these tests give the partonic
    channels weight 1 (tests/test_alp_hadronic.py checks the blended widths)."""
    monkeypatch.setattr(alp.alp_hadronic, "partonic_weight", lambda m_a: jnp.ones_like(m_a))


@pytest.mark.parametrize("channel, quoted", [("ss", "9.70e-20"), ("gg", "7.45e-19"), ("gamgam", "2.49e-23"),
                                             ("uu", "5.2e-23"), ("dd", "2.5e-22"), ("chichi", "3.71e-24")])
def test_bench_widths(bench, channel, quoted, partonic_only):
    assert_quoted(alp.widths(bench)[channel], quoted)


def test_bench_decay_and_branching(bench, partonic_only):
    assert float(alp.width_to_quark_pair(bench, "c")) == 0.0  # 2 m_c(m_c) = 2.546 GeV > m_a
    assert_quoted(alp.br_to_dm(bench), "4e-6")
    assert_quoted(alp.decay_length(bench), "234")
    assert_quoted(alp.boost_in_b_decay(bench), "1.043")
    assert_quoted(alp.boost_in_b_decay(bench.replace(m_a=2.0)), "1.115")
    assert_quoted(alp.escape_probability(bench), "0.988")
    assert_quoted(alp.escape_probability(bench.replace(detector_length=1.5)), "0.994")
    assert_quoted(alp.br_b_to_k(bench), "9.13e-6")
    assert_quoted(alp.br_b_to_k_invisible(bench), "9.02e-6")


@pytest.mark.parametrize("m_a, unit_k, unit_kstar", [(2.0, 2.046e11, 1.896e11), (2.1, 2.055e11, 1.887e11)])
def test_br_per_coupling_spec(m_a, unit_k, unit_kstar):
    # docs/physics/alp.md §2.3, docs/validation.md §7.9: BR/(|c_sb|/f_a)² [GeV²],
    # tolerance 1e-3 (4 quoted digits)
    p = alp.Params(m_a=m_a, f_a=1.0e8, m_chi=1e-3, c_sb_v=1.0, c_sb_a=1.0)
    assert abs(float(alp.br_b_to_k(p)) * 1e16 / unit_k - 1) < 1e-3
    assert abs(float(alp.br_b_to_kstar(p)) * 1e16 / unit_kstar - 1) < 1e-3


# ------------------------------------------------------------------ scaling laws and limits
def test_widths_scale_as_inverse_fa_squared(bench):
    w1, w2 = alp.widths(bench), alp.widths(bench.replace(f_a=3.7e8))
    for k in w1:  # exact law; rtol 1e-13: the hadronic widths sum ~10³ quadrature terms, each ∝ 1/f_a²
        np.testing.assert_allclose(float(w2[k]), float(w1[k]) * (1.5 / 3.7) ** 2, rtol=1e-13)
    np.testing.assert_allclose(float(alp.decay_length(bench.replace(f_a=3.7e8))),
                               float(alp.decay_length(bench)) * (3.7 / 1.5) ** 2, rtol=1e-14)


def test_br_scales_with_csb_squared(bench):
    np.testing.assert_allclose(float(alp.br_b_to_k(bench.replace(c_sb_v=0.3))),
                               0.09 * float(alp.br_b_to_k(bench)), rtol=1e-14)
    p = bench.replace(c_sb_a=0.5)
    np.testing.assert_allclose(float(alp.br_b_to_kstar(p.replace(c_sb_a=1.5))),
                               9 * float(alp.br_b_to_kstar(p)), rtol=1e-14)


def test_invisible_fraction_limits(bench):
    # L → ∞: the ALP always decays inside → only a → χχ̄ is invisible (exp(−1e9/244) = 0 exactly)
    far = bench.replace(detector_length=1e9)
    assert float(alp.invisible_fraction(far)) == pytest.approx(float(alp.br_to_dm(bench)), rel=1e-14)
    # L → 0: everything escapes; 1 − O(L/βγcτ) = 1 − 4e-12
    assert float(alp.invisible_fraction(bench.replace(detector_length=1e-9))) == pytest.approx(1.0, abs=1e-11)
    # (11) written out with the published form B_χ + (1 − B_χ) e^{−L/(βγcτ)}
    b = float(alp.br_to_dm(bench))
    esc = math.exp(-3.0 / (float(alp.boost_in_b_decay(bench)) * float(alp.decay_length(bench))))
    np.testing.assert_allclose(float(alp.invisible_fraction(bench)), b + (1 - b) * esc, rtol=1e-13)
    # no open channel at all (c = 0): stable ALP, invisible fraction 1, cτ = ∞
    stable = alp.Params(m_a=2.1, f_a=1e8, m_chi=1e-3)
    assert float(alp.invisible_fraction(stable)) == 1.0 and float(alp.decay_length(stable)) == math.inf


def test_gluon_nlo_factor_steps_at_charm_threshold(bench):
    # n_q: 3 → 4 at m_a = 2 m_c; the NLO bracket drops by (7/6) α_s/π across the step
    lo, hi = bench.replace(m_a=2 * c.M_C - 1e-9), bench.replace(m_a=2 * c.M_C + 1e-9)
    a_s = float(alpha_s(2 * c.M_C))
    lo_nlo, hi_nlo = 1 + (97 / 4 - 3.5) * a_s / math.pi, 1 + (97 / 4 - 14 / 3) * a_s / math.pi
    # divide out |c_GG^eff|², which has a √|τ_c − 1| cusp there; 1e-7: the ±1e-9 GeV offsets change
    # m_a³ α_s² by ~1e-9 relative
    ratio = float(alp.width_to_gluons(hi)) / float(alp.width_to_gluons(lo))
    coupling_ratio = abs(complex(alp.c_eff_gluon(hi))) ** 2 / abs(complex(alp.c_eff_gluon(lo))) ** 2
    np.testing.assert_allclose(ratio / coupling_ratio, hi_nlo / lo_nlo, rtol=1e-7)


# ------------------------------------------------------------------ b → s a vs explicit Dirac matrices
def _gamma_matrices():
    i2, z2 = np.eye(2), np.zeros((2, 2))
    sig = [np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.array([[1, 0], [0, -1]])]
    g0 = np.block([[i2, z2], [z2, -i2]]).astype(complex)
    gs = [np.block([[z2, s], [-s, z2]]).astype(complex) for s in sig]
    g5 = 1j * g0 @ gs[0] @ gs[1] @ gs[2]
    return [g0, *gs], g5


def test_width_b_to_s_a_vs_dirac_trace():
    cv, ca, m_a, f_a = 0.7, 0.4, 2.1, 1e8
    gam, g5 = _gamma_matrices()
    slash = lambda k: k[0] * gam[0] - k[1] * gam[1] - k[2] * gam[2] - k[3] * gam[3]
    mb = c.M_BQ
    pmag = (mb**2 - m_a**2) / (2 * mb)  # m_s = 0
    pb = np.array([mb, 0, 0, 0])
    ps = np.array([pmag, 0, 0, pmag])
    pa = pb - ps
    vertex = slash(pa) @ (cv * np.eye(4) + ca * g5) / (2 * f_a)  # from ∂_μa/(2f_a) s̄γ^μ(c_V + c_Aγ₅)b
    vbar = gam[0] @ vertex.conj().T @ gam[0]
    msq = 0.5 * np.trace(slash(ps) @ vertex @ (slash(pb) + mb * np.eye(4)) @ vbar).real  # b-spin average
    ref = pmag / (8 * np.pi * mb**2) * msq
    p = alp.Params(m_a=m_a, f_a=f_a, m_chi=1e-3, c_sb_v=cv, c_sb_a=ca)
    np.testing.assert_allclose(float(alp.width_b_to_s_a(p)), ref, rtol=1e-12)  # double-precision traces
    assert float(alp.width_b_to_s_a(p.replace(m_a=4.5))) == 0.0
    assert np.isfinite(float(jax.grad(lambda m: alp.width_b_to_s_a(p.replace(m_a=m)))(4.5)))


def test_quark_yukawa(bench):
    y = float(alp.quark_yukawa(bench.replace(c_ss=-2.0), "s"))
    assert y == pytest.approx(-2 * c.M_S / 1.5e8, rel=1e-15)


# ------------------------------------------------------------------ scattering cross sections
def _trace_a(w, s, m, ma):
    # docs/physics/alp-freeze-in.md §3.2: Tr_a(w), w = m² − u
    n_a = (s - m**2) ** 2 - 2 * ma**2 * (s + m**2) + 2 * ma**4
    return (8 * m**2 * ma**2 / w**2 + 4 * n_a / ((s - m**2) * w) - 8 + 8 * ma**2 * s / (s - m**2) ** 2
            + 4 * w / (s - m**2))


def _trace_b(a1, s, m, ma):
    # docs/physics/alp-freeze-in.md §3.2: Tr_b(a'), a' = m² − t, b' = s − m_a² − a'
    b1 = s - ma**2 - a1
    n_b = s**2 + ma**4 - 4 * m**2 * ma**2
    return -8 * m**2 * ma**2 / a1**2 - 8 * m**2 * ma**2 / b1**2 + 4 * n_b / (s - ma**2) * (1 / a1 + 1 / b1)


def _log_quad(f, lo, hi):
    # ∫ f dx in x = e^u (the integrands peak like 1/x² at the small end)
    return quad(lambda u: f(math.exp(u)) * math.exp(u), math.log(lo), math.log(hi), epsabs=0, epsrel=1e-13,
                limit=500)[0]


def _sigma_a_ref(s, m, ma, y, coupling, colour):
    """σ(q V → q a) = ∫dw y² 4π·coupling·colour·¼ Tr_a /(16π (s − m²)²) (V = g or γ)."""
    lam = math.sqrt((s - (m + ma) ** 2) * (s - (m - ma) ** 2))
    w_lo, w_hi = ((s - m**2) * (s + m**2 - ma**2 + sign * lam) / (2 * s) for sign in (-1, 1))
    integral = _log_quad(lambda w: _trace_a(w, s, m, ma), w_lo, w_hi)
    return y**2 * 4 * math.pi * coupling * colour / 4 * integral / (16 * math.pi * (s - m**2) ** 2)


def _sigma_b_ref(s, m, ma, y, coupling, colour):
    """σ(q q̄ → V a) = ∫da' y² 4π·coupling·colour·¼ Tr_b /(16π s(s − 4m²)); Tr_b symmetric in a' ↔ b'."""
    beta = math.sqrt(1 - 4 * m**2 / s)
    lo, mid = (s - ma**2) * (1 - beta) / 2, (s - ma**2) / 2
    integral = 2 * _log_quad(lambda a1: _trace_b(a1, s, m, ma), lo, mid)
    return y**2 * 4 * math.pi * coupling * colour / 4 * integral / (16 * math.pi * s * (s - 4 * m**2))


# colour factors: qg: Tr(TᵃTᵃ)/(3·8) = 1/6; qq̄ → g: Tr(TᵃTᵃ)/9 = 4/9; qγ: 3/3 = 1; qq̄ → γ: 3/9 = 1/3
SIGMA_POINTS = [(30.0, 1.3, 2.1), (100.0, 4.18, 2.0), (10.0, 0.095, 2.0), (50.0, 1.27, 0.5),
                (500.0, 0.0047, 2.1), (12.0, 1.3, 2.1), (4.9, 0.0935, 2.1), (40.0, 4.183, 0.0)]


@pytest.mark.parametrize("s, m, ma", SIGMA_POINTS)
def test_sigma_vs_trace_quadrature(s, m, ma):
    y, a_s, q = 0.8, 0.3, -1 / 3
    # 1e-9 relative: quad converges to ≲1e-12; closed forms are exact
    if s > (m + ma) ** 2:
        np.testing.assert_allclose(float(alp.sigma_qg_to_qa(s, m, ma, y, a_s)),
                                   _sigma_a_ref(s, m, ma, y, a_s, 1 / 6), rtol=1e-9)
        np.testing.assert_allclose(float(alp.sigma_qgamma_to_qa(s, m, ma, y, q)),
                                   _sigma_a_ref(s, m, ma, y, q**2 * c.ALPHA_EM_0, 1.0), rtol=1e-9)
    if s > max(4 * m**2, ma**2):
        np.testing.assert_allclose(float(alp.sigma_qqbar_to_ga(s, m, ma, y, a_s)),
                                   _sigma_b_ref(s, m, ma, y, a_s, 4 / 9), rtol=1e-9)
        np.testing.assert_allclose(float(alp.sigma_qqbar_to_gammaa(s, m, ma, y, q)),
                                   _sigma_b_ref(s, m, ma, y, q**2 * c.ALPHA_EM_0, 1 / 3), rtol=1e-9)


def test_sigma_spec_numbers():
    # docs/validation.md §7.12 (an independent numpy/scipy calculation): 6 quoted digits
    assert_quoted(alp.sigma_qg_to_qa(30.0, 1.3, 2.1, 1.0, 1.0), "1.59920e-3")
    assert_quoted(alp.sigma_qqbar_to_ga(30.0, 1.3, 2.1, 1.0, 1.0), "2.76035e-2")


def test_sigma_light_quark_limits():
    s, x_q = 10.0, 1e-10
    m = math.sqrt(x_q * s)
    L = math.log(1 / x_q)
    # corrections to the limits are O(x_q ln²x_q) ≈ 5e-8 absolute on O(L) brackets → rtol 1e-8
    np.testing.assert_allclose(float(alp.sigma_qg_to_qa(s, m, 0.0, 1.0, 1.0)), (L - 1.5) / (24 * s),
                               rtol=1e-8)
    for x_a in (0.0, 0.3):
        ref = 2 / (9 * s) * ((1 + x_a**2) * L - 2 * x_a) / (1 - x_a)
        np.testing.assert_allclose(float(alp.sigma_qqbar_to_ga(s, m, math.sqrt(x_a * s), 1.0, 1.0)), ref,
                                   rtol=1e-8)


def _sigma_a_mp(x_q, x_a):
    # [C] (22) as written in docs/physics/alp-freeze-in.md §3.2, at 60 digits, s = 1, y = α_s = 1
    x_q, x_a = mp.mpf(x_q), mp.mpf(x_a)
    ell = mp.sqrt((1 - x_q - x_a) ** 2 - 4 * x_q * x_a)
    La = mp.log((1 + x_q - x_a + ell) / (1 + x_q - x_a - ell))
    br = 2 * ((1 - x_q) ** 2 - 2 * x_a * (1 + x_q) + 2 * x_a**2) * La + ell * (8 * x_a - (1 - x_q) ** 2
                                                                            * (3 - x_q + x_a))
    return float(br / (48 * (1 - x_q) ** 3))


def _sigma_b_mp(x_q, x_a):
    # [C] (23) as written in docs/physics/alp-freeze-in.md §3.2, at 60 digits
    x_q, x_a = mp.mpf(x_q), mp.mpf(x_a)
    b = mp.sqrt(1 - 4 * x_q)
    return float(2 / (9 * b**2 * (1 - x_a)) * ((1 + x_a**2 - 4 * x_q * x_a) * mp.log((1 + b) / (1 - b))
                                                - 2 * x_a * b))


@pytest.mark.parametrize("x_q", [1e-6, 1e-9, 1e-12, 1e-15])
def test_sigma_small_mass_numerically_stable(x_q):
    mp.mp.dps = 60
    m = math.sqrt(x_q)
    for x_a in (0.0, 0.2):
        # rtol 1e-12: a cancellation-free float64 evaluation (naive ln((1+β)/(1−β)) loses ~1/x_q·ε)
        np.testing.assert_allclose(float(alp.sigma_qg_to_qa(1.0, m, math.sqrt(x_a), 1.0, 1.0)),
                                   _sigma_a_mp(x_q, x_a), rtol=1e-12)
        np.testing.assert_allclose(float(alp.sigma_qqbar_to_ga(1.0, m, math.sqrt(x_a), 1.0, 1.0)),
                                   _sigma_b_mp(x_q, x_a), rtol=1e-12)


def test_sigma_closed_is_zero_with_finite_gradient():
    cases = [(alp.sigma_qg_to_qa, (1.3 + 2.1) ** 2), (alp.sigma_qqbar_to_ga, 2.1**2),
             (alp.sigma_qgamma_to_qa, (1.3 + 2.1) ** 2), (alp.sigma_qqbar_to_gammaa, 2.1**2)]
    for f, s_min in cases:
        extra = (2 / 3,) if f in (alp.sigma_qgamma_to_qa, alp.sigma_qqbar_to_gammaa) else (0.3,)
        for s in (0.5 * s_min, s_min):
            fun = lambda s_, m_a, f=f, extra=extra: f(s_, 1.3, m_a, 1.0, *extra)
            assert float(jax.jit(fun)(s, 2.1)) == 0.0
            gs, gm = jax.grad(fun, argnums=(0, 1))(s, 2.1)
            assert float(gs) == 0.0 and float(gm) == 0.0


def test_sigma_input_validation():
    with pytest.raises(ValueError, match="m_q"):
        alp.sigma_qg_to_qa(10.0, 0.0, 1.0, 1.0, 0.3)
    with pytest.raises(ValueError, match="m_a"):
        alp.sigma_qqbar_to_ga(10.0, 0.1, -1.0, 1.0, 0.3)


# ------------------------------------------------------------------ jit / grad / vmap
# br_b_to_k_invisible contains every width, br_b_to_k, the escape probability and the invisible
# fraction; eager grads are slow (op-by-op), so the heavy functions are checked once each
@pytest.mark.parametrize("func", [alp.br_b_to_k_invisible, alp.total_width, alp.decay_length,
                                  alp.width_to_dm])
def test_transforms_in_m_a(bench, func):
    p = bench.replace(c_sb_a=1.0)
    check_transforms(lambda m: func(p.replace(m_a=m)), 2.1)


@pytest.mark.slow  # ~50 s; jit/grad/vmap in m_a (all widths, BR, P_inv) stay in the default suite
def test_transforms_other_parameters(bench):
    p = bench.replace(c_sb_a=1.0)
    check_transforms(lambda m: alp.br_b_to_kstar(p.replace(m_a=m)), 2.1)
    check_transforms(lambda f: alp.br_b_to_k_invisible(p.replace(f_a=f)), 1.5e8)
    check_transforms(lambda mc: alp.invisible_fraction(p.replace(m_chi=mc)), 0.3)
    check_transforms(lambda cq: alp.total_width(alp.Params.universal(**{**BENCH, "c_q": cq})), 0.7)
    check_transforms(lambda m: alp.width_to_quark_pair(p.replace(m_a=m), "s"), 2.1)


@pytest.mark.parametrize("func", [alp.sigma_qg_to_qa, alp.sigma_qqbar_to_ga])
def test_sigma_transforms(func):
    check_transforms(lambda s: func(s, 1.3, 2.1, 0.5, 0.3), 30.0)
    check_transforms(lambda m_a: func(30.0, 1.3, m_a, 0.5, 0.3), 2.1)
    check_transforms(lambda m_q: func(30.0, m_q, 2.1, 0.5, 0.3), 0.0935)


def test_vmap_over_params(bench):
    m_a = jnp.array([1.0, 2.1, 3.0, 4.5])
    batch = jax.tree.map(lambda x: jnp.full(m_a.shape, x), bench.replace(c_sb_a=1.0))
    batch = batch.replace(m_a=m_a)  # re-validated with array fields

    def observables(p):
        w = alp.widths(p)
        return jnp.stack([alp.br_b_to_k_invisible(p), alp.total_width(p), alp.invisible_fraction(p),
                          alp.br_b_to_kstar(p), w["cc"]])

    got = np.asarray(jax.jit(jax.vmap(observables))(batch))
    single = jax.jit(observables)
    loop = np.array([single(bench.replace(c_sb_a=1.0, m_a=float(m))) for m in m_a])
    np.testing.assert_allclose(got, loop, rtol=1e-12)  # same ops, vectorised
    assert got[-1, 3] == 0.0  # B → K* a closed at 4.5 GeV > m_B − m_K*
    assert got[1, 4] == 0.0 and got[2, 4] > 0.0  # a → cc̄ opens at 2m_c = 2.546 GeV
