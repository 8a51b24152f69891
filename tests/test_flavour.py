"""B⁺→K⁺νν̄ spectra and the two-body line on the Belle II generator bins (bkdm.flavour).

References: docs/physics/b-to-k-nunu.md §6, docs/validation.md §7.10 (BR_SD = 4.68e-6, HPQCD SD 4.97e-6),
docs/physics/belle2-likelihood.md §9.7 (Belle II reference spectrum per generator bin,
computed there with scipy quad), scipy quad of the spectra and of the Breit–Wigner,
independent re-implementations of the formulas written here, scaling laws.
"""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.interpolate import CubicSpline
from transforms import check_transforms

from bkdm import constants as c
from bkdm import flavour as fl
from bkdm.formfactors import bk_f_plus

# docs/physics/b-to-k-nunu.md §6.2: inputs of the quoted BR_SD = 4.68e-6
SM_REF = dict(x_t=1.462, sin2_theta_w=0.23129, alpha_em=1 / 127.93, vtb_vts=0.04106)

# docs/physics/belle2-likelihood.md §9.7: B_SM,j for CSV columns 1…100 (5 significant digits)
APPENDIX_A = np.array([
    6.7291e-08, 6.7279e-08, 6.7262e-08, 6.7241e-08, 6.7215e-08, 6.7184e-08, 6.7148e-08, 6.7107e-08,
    6.7060e-08, 6.7008e-08, 6.6951e-08, 6.6888e-08, 6.6819e-08, 6.6744e-08, 6.6662e-08, 6.6575e-08,
    6.6480e-08, 6.6379e-08, 6.6272e-08, 6.6156e-08, 6.6034e-08, 6.5904e-08, 6.5766e-08, 6.5621e-08,
    6.5467e-08, 6.5305e-08, 6.5134e-08, 6.4954e-08, 6.4765e-08, 6.4566e-08, 6.4358e-08, 6.4140e-08,
    6.3912e-08, 6.3673e-08, 6.3423e-08, 6.3162e-08, 6.2889e-08, 6.2605e-08, 6.2308e-08, 6.1999e-08,
    6.1677e-08, 6.1341e-08, 6.0992e-08, 6.0628e-08, 6.0250e-08, 5.9857e-08, 5.9449e-08, 5.9024e-08,
    5.8583e-08, 5.8125e-08, 5.7649e-08, 5.7155e-08, 5.6643e-08, 5.6112e-08, 5.5560e-08, 5.4988e-08,
    5.4395e-08, 5.3780e-08, 5.3143e-08, 5.2483e-08, 5.1798e-08, 5.1089e-08, 5.0354e-08, 4.9592e-08,
    4.8804e-08, 4.7987e-08, 4.7141e-08, 4.6265e-08, 4.5358e-08, 4.4419e-08, 4.3447e-08, 4.2441e-08,
    4.1400e-08, 4.0322e-08, 3.9208e-08, 3.8054e-08, 3.6862e-08, 3.5628e-08, 3.4353e-08, 3.3035e-08,
    3.1674e-08, 3.0268e-08, 2.8816e-08, 2.7319e-08, 2.5776e-08, 2.4187e-08, 2.2552e-08, 2.0872e-08,
    1.9149e-08, 1.7386e-08, 1.5587e-08, 1.3756e-08, 1.1903e-08, 1.0038e-08, 8.1775e-09, 6.3436e-09,
    4.5692e-09, 2.9043e-09, 1.4316e-09, 3.2231e-10,
])


def fake_model(width=0.05):
    """Minimal stand-in for a bkdm.models module: p = {"m_x": GeV, "br": BR(B→KX)·P_inv}."""
    return types.SimpleNamespace(
        mediator_mass=lambda p: p["m_x"],
        br_b_to_k_invisible=lambda p: p["br"],
        total_width=lambda p: width * jnp.ones_like(p["m_x"]),
    )


# ------------------------------------------------------------------------------- SM spectrum
def test_br_sd_spec_value():
    br = float(fl.br_sm_short_distance(fl.SMInputs(**SM_REF)))
    # docs/validation.md §7.10: 4.68e-6 (quoted to 3 digits → 1e-3)
    assert br == pytest.approx(4.68e-6, rel=1e-3)
    # HPQCD short-distance 5.58 − 0.61 = 4.97e-6 (different form factors): 10 %
    assert br == pytest.approx(4.97e-6, rel=0.10)


def test_br_sd_quadrature_vs_scipy_quad():
    inputs = fl.SMInputs(**SM_REF)
    q2max = (c.M_B_PLUS - c.M_K_PLUS) ** 2
    # scale to O(1) so quad's relative tolerance governs; epsrel 1e-13 with the endpoint handled
    ref, err = quad(lambda q2: 1e6 * float(fl.dbr_dq2_sm(q2, inputs)), 0.0, q2max,
                    epsabs=0.0, epsrel=1e-13, limit=500)
    # brief: fixed-node Gauss–Legendre accurate to 1e-8 (measured ~1e-15)
    assert float(fl.br_sm_short_distance(inputs)) * 1e6 == pytest.approx(ref, rel=1e-8)


def test_dbr_dq2_sm_vs_independent_formula():
    # docs/physics/belle2-likelihood.md §9.7 form: τ G_F² α² X_t² |VV|²/(32 π⁵ s_W⁴) |p_K|³ f₊²,
    # |p_K| from 2-body kinematics
    q2 = 4.41
    mb, mk = c.M_B_PLUS, c.M_K_PLUS
    e_k = (mb**2 + mk**2 - q2) / (2 * mb)
    p_k = np.sqrt(e_k**2 - mk**2)
    tau = c.TAU_B_PLUS_S / c.HBAR_GEV_S
    ref = (tau * c.G_FERMI**2 * SM_REF["alpha_em"] ** 2 * SM_REF["x_t"] ** 2 * SM_REF["vtb_vts"] ** 2
           / (32 * np.pi**5 * SM_REF["sin2_theta_w"] ** 2) * p_k**3 * float(bk_f_plus(q2)) ** 2)
    # same physics, different algebra: agreement to rounding (1e-12)
    assert float(fl.dbr_dq2_sm(q2, fl.SMInputs(**SM_REF))) == pytest.approx(ref, rel=1e-12)


def test_dbr_dq2_sm_closed_outside_range():
    q2max = (c.M_B_PLUS - c.M_K_PLUS) ** 2
    for q2 in (-1.0, q2max + 1e-9, 30.0):
        assert float(fl.dbr_dq2_sm(q2)) == 0.0
        assert np.isfinite(float(jax.grad(fl.dbr_dq2_sm)(q2)))


def test_dbr_dq2_sm_transforms():
    y, g = check_transforms(lambda q2: 1e6 * fl.dbr_dq2_sm(q2), 4.41)
    assert y > 0 and g != 0


def test_br_sd_scaling_and_transforms():
    # BR ∝ X_t² (docs/physics/b-to-k-nunu.md §6: C_L = −X_t/s_W²) ⇒ dBR/dX_t = 2 BR/X_t exactly
    f = lambda x_t: 1e6 * fl.br_sm_short_distance(fl.SMInputs(x_t=x_t))
    y, g = check_transforms(f, 1.462)
    assert g == pytest.approx(2 * y / 1.462, rel=1e-12)
    # and ∝ (α/s_W²)² τ_B |VV|²
    base = float(fl.br_sm_short_distance(fl.SMInputs(**SM_REF)))
    doubled = {"alpha_em": 2 * SM_REF["alpha_em"], "sin2_theta_w": 2 * SM_REF["sin2_theta_w"]}
    scaled = fl.SMInputs(**{**SM_REF, **doubled})
    assert float(fl.br_sm_short_distance(scaled)) == pytest.approx(base, rel=1e-13)


def test_sm_inputs_validation():
    with pytest.raises(ValueError, match="x_t"):
        fl.SMInputs(x_t=-1.0)
    with pytest.raises(ValueError, match="tau_b_s"):
        fl.SMInputs(tau_b_s=0.0)


# ----------------------------------------------------------------- Belle II reference spectrum
def test_belle2_bins_vs_notes_appendix_a():
    bins = np.asarray(fl.belle2_sm_bin_branching_fractions())
    assert bins.shape == (100,)
    # table rounded to 5 significant digits: ≤ 1.6e-5 relative rounding → 1e-4
    np.testing.assert_allclose(bins, APPENDIX_A, rtol=1e-4)
    assert bins.sum() == pytest.approx(4.9661e-6, rel=1e-4)  # docs/physics/belle2-likelihood.md §9.2/§9.7
    # μ = 1 normalisation (docs/physics/belle2-likelihood.md §9.6: ~0.1 %)
    assert bins.sum() == pytest.approx(4.97e-6, rel=1e-3)


def test_hpqcd_f_plus_at_zero():
    # docs/physics/belle2-likelihood.md §9.7: f₊(0) = 0.332 (z(0) = 0 ⇒ f₊(0) = 1.304 a₀ exactly)
    assert float(fl.hpqcd_f_plus(0.0)) == pytest.approx(1.304 * 0.2545, rel=1e-14)
    assert float(fl.hpqcd_f_plus(0.0)) == pytest.approx(0.332, abs=5e-4)


def test_belle2_bins_vs_quad_of_spectrum():
    edges = fl.belle2_generator_bin_edges()
    bins = np.asarray(fl.belle2_sm_bin_branching_fractions())
    for j in (0, 50, 98, 99):  # incl. the last bin, next to the (q²_max − q²)^{3/2} endpoint
        ref, _ = quad(lambda q2: 1e8 * float(fl.dbr_dq2_belle2_sm(q2)), edges[j], edges[j + 1],
                      epsabs=0.0, epsrel=1e-12)
        assert bins[j] * 1e8 == pytest.approx(ref, rel=1e-10)  # quadrature accuracy


def test_generator_edges_match_csv():
    edges = fl.belle2_generator_bin_edges()
    assert edges.shape == (101,)
    assert edges[0] == 0.0 and edges[-1] == pytest.approx(22.885, abs=1e-12)
    np.testing.assert_allclose(np.diff(edges), 0.22885, rtol=1e-12)


# ------------------------------------------------------------------------------ two-body line
CENTRES = 0.5 * (fl.belle2_generator_bin_edges()[:-1] + fl.belle2_generator_bin_edges()[1:])


@pytest.mark.parametrize("m_x", [0.0, 0.3, 1.0, 2.0, 2.1, 3.5, 4.7, 4.78])
def test_interpolate_weights_sum_and_first_moment(m_x):
    w = np.asarray(fl.two_body_bin_weights(m_x))
    # a natural cubic spline (and its linear continuation) reproduces constants and straight lines
    # exactly: total weight 1 and mean q² = m_X² everywhere, to round-off (100 terms of O(1): 1e-13)
    assert w.sum() == pytest.approx(1.0, abs=1e-13)
    assert np.dot(w, CENTRES) == pytest.approx(m_x**2, abs=1e-12)


def test_interpolate_weights_reproduce_the_bins_at_centres():
    for j in (0, 17, 50, 99):
        w = np.asarray(fl.two_body_bin_weights(np.sqrt(CENTRES[j])))
        np.testing.assert_allclose(w, np.eye(100)[j], atol=1e-13)  # δ-line at a centre: that bin's response


def test_interpolate_weights_vs_scipy_natural_cubic_spline():
    """Independent reference: scipy's natural CubicSpline through the unit vectors (cardinal splines),
    continued by its tangent lines outside the outer centres. Round-off of a 100 × 100 solve: 1e-12."""
    spline = CubicSpline(CENTRES, np.eye(100), bc_type="natural")
    q2 = np.concatenate([np.linspace(0.0, 22.885 - 1e-9, 997), CENTRES[[3, 40]] + 1e-9])
    ref = spline(q2)
    for end, outside in ((CENTRES[0], q2 < CENTRES[0]), (CENTRES[-1], q2 > CENTRES[-1])):
        ref[outside] = spline(end) + (q2[outside] - end)[:, None] * spline(end, 1)
    w = np.asarray(jax.vmap(fl.two_body_bin_weights)(jnp.sqrt(q2)))
    np.testing.assert_allclose(w, ref, rtol=0, atol=1e-12)


def test_interpolate_weights_are_c2_across_centres_and_outer_ends():
    """First and second q²-derivatives of the weights just left and right of a centre (autodiff on each
    side, 1e-9 GeV² away) agree to 1e-6 (the change over 2e-9 GeV² is ≲ 1e-9 |w'''| ≈ 1e-7 for
    |w'''| ≲ 10/Δ³ = 800 GeV⁻⁶). Hat functions jump by 2/Δ = 8.7 GeV⁻² in w'. Checked also at the outer
    centres, where the linear continuation starts (natural end condition: w'' = 0 on both sides)."""
    d1 = jax.jacfwd(lambda q2: fl.two_body_bin_weights(jnp.sqrt(q2)))
    d2 = jax.jacfwd(d1)
    for c_k in CENTRES[[0, 1, 17, 50, 98, 99]]:
        for d in (d1, d2):
            left, right = np.asarray(d(c_k - 1e-9)), np.asarray(d(c_k + 1e-9))
            np.testing.assert_allclose(left, right, rtol=0, atol=1e-6)


def test_weights_closed_channel():
    for shape, width in (("interpolate", None), ("breit-wigner", 0.01)):
        f = lambda m, width=width, shape=shape: jnp.sum(fl.two_body_bin_weights(m, width, shape))
        assert float(f(4.79)) == 0.0  # m_X² = 22.94 > 22.885 GeV²
        assert np.isfinite(float(jax.grad(f)(4.79)))


@pytest.mark.parametrize("m_x,width", [(2.0, 0.1), (1.3, 1e-3), (4.0, 0.5)])
def test_breit_wigner_weights_vs_quad(m_x, width):
    edges = fl.belle2_generator_bin_edges()
    bw = lambda q2: 1.0 / ((q2 - m_x**2) ** 2 + (m_x * width) ** 2)
    pts = [m_x**2] if 0 < m_x**2 < edges[-1] else None
    norm, _ = quad(bw, 0.0, edges[-1], points=pts, epsabs=0.0, epsrel=1e-12, limit=500)
    w = np.asarray(fl.two_body_bin_weights(m_x, width, "breit-wigner"))
    assert w.sum() == pytest.approx(1.0, abs=1e-13)
    j = int(m_x**2 // 0.22885)
    for k in (j - 3, j, j + 1, 60):
        ref, _ = quad(bw, edges[k], edges[k + 1], epsabs=0.0, epsrel=1e-12, limit=500)
        # exact arctan integral vs adaptive quadrature: 1e-8 relative (+ tiny absolute for far tails)
        assert w[k] == pytest.approx(ref / norm, rel=1e-8, abs=1e-15)


def test_breit_wigner_narrow_limit_is_bin_of_m2():
    m_x = 2.0  # m² = 4.0 lies in bin 17 = [3.890, 4.119] GeV²
    w = np.asarray(fl.two_body_bin_weights(m_x, 1e-6, "breit-wigner"))
    # Γ → 0: all but O(mΓ/distance to edge) = O(1e-5) of the line in the bin containing m²
    assert w[17] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("shape,width", [("interpolate", None), ("breit-wigner", 0.05)])
def test_weights_transforms(shape, width):
    smooth = jnp.exp(-CENTRES / 8.0)  # a smooth efficiency-like vector to contract with
    f = lambda m: jnp.dot(fl.two_body_bin_weights(m, width, shape), smooth)
    y, g = check_transforms(f, 2.0)
    check_transforms(f, float(np.sqrt(CENTRES[17])))  # at a bin centre (C² there, no kink)
    assert g < 0  # heavier line → larger q² → smaller exp(−q²/8)


def test_np_bin_branching_fractions_fake_model():
    model = fake_model(width=0.07)
    p = {"m_x": jnp.asarray(2.1), "br": jnp.asarray(1.5e-5)}
    b = np.asarray(fl.np_bin_branching_fractions(model, p))
    np.testing.assert_allclose(b, 1.5e-5 * np.asarray(fl.two_body_bin_weights(2.1)), rtol=1e-15)
    # Breit–Wigner with width=None takes the model's total width
    b_bw = np.asarray(fl.np_bin_branching_fractions(model, p, shape="breit-wigner"))
    ref = 1.5e-5 * np.asarray(fl.two_body_bin_weights(2.1, 0.07, "breit-wigner"))
    np.testing.assert_allclose(b_bw, ref, rtol=1e-14)
    assert b_bw.sum() == pytest.approx(1.5e-5, rel=1e-13)
    # transforms through the model interface (vmap over p)
    f = lambda m: 1e5 * jnp.dot(fl.np_bin_branching_fractions(model, {"m_x": m, "br": 1.5e-5}),
                                jnp.exp(-CENTRES / 8.0))
    check_transforms(f, 2.1)


def test_weights_validation():
    with pytest.raises(ValueError, match="shape"):
        fl.two_body_bin_weights(2.0, shape="gaussian")
    with pytest.raises(ValueError, match="m_x"):
        fl.two_body_bin_weights(-1.0)
    with pytest.raises(ValueError, match="width"):
        fl.two_body_bin_weights(2.0, None, "breit-wigner")
    with pytest.raises(ValueError, match="width"):
        fl.two_body_bin_weights(2.0, -0.1, "breit-wigner")
