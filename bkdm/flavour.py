"""B⁺ → K⁺νν̄ spectra and the B⁺ → K⁺X line on the Belle II generator q² bins (docs/physics/b-to-k-nunu.md §6;
docs/physics/belle2-likelihood.md §9.6–9.8). Units: GeV, q² in GeV², branching fractions dimensionless.

* SM short-distance spectrum with bkdm's own inputs (GRvDV f₊, PDG masses): :func:`dbr_dq2_sm`,
  :func:`br_sm_short_distance` (docs/physics/b-to-k-nunu.md §6, Buras et al. 1409.4557).
* The reference SM spectrum that normalises the Belle II number densities (HPQCD f₊ and the inputs
  of the Belle II reinterpretation code, docs/physics/belle2-likelihood.md §9.7): :func:`dbr_dq2_belle2_sm`,
  :func:`belle2_sm_bin_branching_fractions` on the 100 generator bins
  :func:`belle2_generator_bin_edges`.
* A two-body line B⁺ → K⁺X spread over the generator bins, twice continuously differentiable in
  m_X (natural cubic-spline interpolation of the binned response, see :func:`two_body_bin_weights`):
  :func:`two_body_bin_weights`, :func:`np_bin_branching_fractions`.

All functions are pure JAX (jit, grad, vmap). Integrals use fixed-node Gauss–Legendre after the
substitution q² = q²_max − s², which turns the λ^{3/2} ∝ (q²_max − q²)^{3/2} endpoint into a smooth
s⁴ factor, so a few dozen nodes give ~1e-14 relative accuracy.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bkdm import constants as c
from bkdm._validation import check_choice, check_nonnegative, check_positive
from bkdm.formfactors import bk_f_plus, bk_parameters
from bkdm.kinematics import kallen, safe_pow

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(32)

# ---------------------------------------------------------------------------------------- SM inputs


def _f64(x):
    return jnp.asarray(x, dtype=jnp.float64)


def _default_ff_alpha():
    return jnp.asarray(bk_parameters().mean, dtype=jnp.float64)


class SMInputs(eqx.Module):
    """Inputs of the SM B⁺ → K⁺νν̄ rate (docs/physics/constants.md §1.2, docs/physics/b-to-k-nunu.md §6);
    a pytree, so it can be traced/differentiated.

    x_t           top-loop function X_t (Brod–Gorbahn–Stamou)
    sin2_theta_w  sin²θ̂_W(m_Z), MS-bar
    alpha_em      α̂(m_Z), MS-bar
    vtb_vts       |V_tb V_ts*|
    tau_b_s       B⁺ lifetime [s]
    ff_alpha      GRvDV 2023 B→K BSZ coefficients (order of ``bk_parameters().names``)
    """

    x_t: jnp.ndarray = eqx.field(default=c.X_T, converter=_f64)
    sin2_theta_w: jnp.ndarray = eqx.field(default=c.SIN2_THETA_W_MSBAR, converter=_f64)
    alpha_em: jnp.ndarray = eqx.field(default=c.ALPHA_EM_MZ, converter=_f64)
    vtb_vts: jnp.ndarray = eqx.field(default=c.VTB_VTS, converter=_f64)
    tau_b_s: jnp.ndarray = eqx.field(default=c.TAU_B_PLUS_S, converter=_f64)
    ff_alpha: jnp.ndarray = eqx.field(default_factory=_default_ff_alpha, converter=_f64)

    def __check_init__(self):
        check_positive("x_t", self.x_t)
        check_positive("sin2_theta_w", self.sin2_theta_w)
        check_positive("alpha_em", self.alpha_em)
        check_positive("vtb_vts", self.vtb_vts)
        check_positive("tau_b_s", self.tau_b_s, "s")


def _q2_max_sm():
    return (c.M_B_PLUS - c.M_K_PLUS) ** 2


def _integrate_to_endpoint(f, lo, hi, q2_end):
    """∫_lo^hi f(q²) dq² by Gauss–Legendre in s, q² = q2_end − s² (lo ≤ hi ≤ q2_end; arrays OK)."""
    s_lo = jnp.sqrt(jnp.maximum(q2_end - jnp.asarray(hi)[..., None], 0.0))
    s_hi = jnp.sqrt(jnp.maximum(q2_end - jnp.asarray(lo)[..., None], 0.0))
    half = 0.5 * (s_hi - s_lo)
    s = s_lo + half * (_GL_NODES + 1.0)
    return jnp.sum(_GL_WEIGHTS * f(q2_end - s**2) * 2.0 * s * half, axis=-1)


def dbr_dq2_sm(q2, inputs=None):
    """SM short-distance dB(B⁺→K⁺νν̄)/dq² [GeV⁻²], summed over the three neutrino flavours.

    docs/physics/b-to-k-nunu.md §6.1 (Buras et al. 1409.4557; normalisation derived there):
    dB/dq² = τ_B G_F² α² |V_tb V_ts*|² /(256 π⁵ m_B³) λ^{3/2}(m_B², m_K², q²) f₊²(q²) |C_L|²,
    C_L = −X_t/s_W², with GRvDV f₊ and PDG m_B⁺, m_K⁺. Exactly 0 outside 0 ≤ q² ≤ (m_B − m_K)².
    ``inputs``: :class:`SMInputs` (default: bkdm.constants values).
    """
    inp = SMInputs() if inputs is None else inputs
    q2 = jnp.asarray(q2, dtype=jnp.float64)
    inside = (q2 >= 0.0) & (q2 <= _q2_max_sm())
    q2_safe = jnp.where(inside, q2, 0.5 * _q2_max_sm())
    lam32 = safe_pow(kallen(c.M_B_PLUS**2, c.M_K_PLUS**2, q2_safe), 1.5)
    width_b = c.HBAR_GEV_S / inp.tau_b_s
    c_l = inp.x_t / inp.sin2_theta_w
    norm = (c.G_FERMI**2 * inp.alpha_em**2 * inp.vtb_vts**2
            / (256.0 * jnp.pi**5 * c.M_B_PLUS**3 * width_b))
    rate = norm * lam32 * bk_f_plus(q2_safe, inp.ff_alpha) ** 2 * c_l**2
    return jnp.where(inside, rate, 0.0)


def br_sm_short_distance(inputs=None):
    """SM short-distance BR(B⁺→K⁺νν̄) = ∫₀^{(m_B−m_K)²} dB/dq² dq² (docs/physics/b-to-k-nunu.md §6,
    docs/validation.md §7.10).

    32-node Gauss–Legendre in s = √(q²_max − q²) (smooth integrand; ~1e-14 relative accuracy).
    """
    q2_end = _q2_max_sm()
    return _integrate_to_endpoint(lambda q2: dbr_dq2_sm(q2, inputs), 0.0, q2_end, q2_end)


# ------------------------------------------------------------------- Belle II reference SM spectrum
# Inputs of the SM spectrum that normalises the Belle II number densities
# (docs/physics/belle2-likelihood.md §9.7; the Belle II reinterpretation code of arXiv:2507.12393):
# NOT bkdm's defaults — k_ij = n_ij/B_SM,j is only right with the spectrum the densities were generated with.
BELLE2_SM = {
    "g_fermi": 1.1663787e-5,  # GeV⁻²
    "alpha_em": 1.0 / 127.952,
    "x_t": 1.468,
    "sin2_theta_w": 0.23124,
    "vtb_vts": 0.04185,
    "m_b": 5.279495,  # GeV
    "m_k": 0.495644,  # GeV
    "m_bs_star": 5.4158,  # GeV, f₊ pole
    "tau_b_per_gev": 1.638e-12 / 6.58211e-25,  # τ_B [GeV⁻¹] (ħ = 6.58211e-25 GeV s as in the source)
    "hpqcd_a_plus": (0.2545, -0.71, 0.32),  # HPQCD 2207.12468 Table V, f₊ a₀..a₂
    "hpqcd_log_factor": 1.304,
}
BELLE2_Q2_MAX_GEN = 22.885  # GeV², upper edge of the generator q² binning
BELLE2_N_GEN_BINS = 100


def hpqcd_f_plus(q2):
    """HPQCD B→K f₊ in the BCL form used by Belle II (arXiv:2207.12468;
    docs/physics/belle2-likelihood.md §9.7):

    f₊(q²) = L/(1 − q²/m_Bs*²) Σ_{n=0}^{N−1} a_n [zⁿ − (n/N)(−1)^{n−N} z^N],  N = 3, L = 1.304,
    z = (√(t₊ − q²) − √t₊)/(√(t₊ − q²) + √t₊), t₊ = (m_B + m_K)², t₀ = 0.
    """
    p = BELLE2_SM
    t_plus = (p["m_b"] + p["m_k"]) ** 2
    root = jnp.sqrt(t_plus - q2)
    z = (root - np.sqrt(t_plus)) / (root + np.sqrt(t_plus))
    n_terms = len(p["hpqcd_a_plus"])
    series = sum(a * (z**n - n / n_terms * (-1.0) ** (n - n_terms) * z**n_terms)
                 for n, a in enumerate(p["hpqcd_a_plus"]))
    return p["hpqcd_log_factor"] * series / (1.0 - q2 / p["m_bs_star"] ** 2)


def _belle2_q2_end():
    return (BELLE2_SM["m_b"] - BELLE2_SM["m_k"]) ** 2


def dbr_dq2_belle2_sm(q2):
    """Belle II reference SM dB(B⁺→K⁺νν̄)/dq² [GeV⁻²] (docs/physics/belle2-likelihood.md §9.7;
    arXiv:2207.13371 eq. 16):

    dB/dq² = τ_B G_F² α² X_t² |V_tb V_ts*|² /(32 π⁵ s_W⁴) |p_K|³ f₊²(q²),  |p_K| = λ^{1/2}/(2 m_B),
    HPQCD f₊ (:func:`hpqcd_f_plus`). Exactly 0 outside 0 ≤ q² ≤ (m_B − m_K)² (Belle II masses).
    """
    p = BELLE2_SM
    q2 = jnp.asarray(q2, dtype=jnp.float64)
    inside = (q2 >= 0.0) & (q2 <= _belle2_q2_end())
    q2_safe = jnp.where(inside, q2, 0.5 * _belle2_q2_end())
    p_k3 = safe_pow(kallen(p["m_b"] ** 2, p["m_k"] ** 2, q2_safe), 1.5) / (2.0 * p["m_b"]) ** 3
    norm = (p["tau_b_per_gev"] * p["g_fermi"] ** 2 * p["alpha_em"] ** 2 * p["x_t"] ** 2
            * p["vtb_vts"] ** 2 / (32.0 * np.pi**5 * p["sin2_theta_w"] ** 2))
    return jnp.where(inside, norm * p_k3 * hpqcd_f_plus(q2_safe) ** 2, 0.0)


def belle2_generator_bin_edges():
    """The 101 edges [GeV²] of the Belle II generator q² bins, linspace(0, 22.885, 101)
    (docs/physics/belle2-likelihood.md §9.6).

    (The number-density CSVs have one more column in front, the [−1, 0) underflow, which is dropped.)
    """
    return np.linspace(0.0, BELLE2_Q2_MAX_GEN, BELLE2_N_GEN_BINS + 1)


def belle2_sm_bin_branching_fractions():
    """B_SM,j = ∫_bin j dB/dq² of :func:`dbr_dq2_belle2_sm` on the 100 generator bins
    (docs/physics/belle2-likelihood.md §9.7; Σ_j = 4.9661e-6). 32-node Gauss–Legendre per bin in s =
    √(q²_end − q²)."""
    edges = jnp.asarray(belle2_generator_bin_edges())
    return _integrate_to_endpoint(dbr_dq2_belle2_sm, edges[:-1], edges[1:], _belle2_q2_end())


# ------------------------------------------------------------------------ two-body line B⁺ → K⁺ X
SHAPES = ("interpolate", "breit-wigner")
_MIN_MASS_WIDTH = 1e-12  # GeV²: floor on m_X Γ_X in the Breit–Wigner (narrower lines act as δ)


def _natural_spline_coefficients():
    """A (102 × 100): B-spline coefficients α = A y of the natural cubic spline through (j, y_j),
    j = 0…99 (centre index as abscissa), s(x) = Σ_{k=−1}^{100} α_k B(x − k):
    (α_{j−1} + 4 α_j + α_{j+1})/6 = y_j and s''(0) = s''(99) = 0, i.e. α_{−1} − 2α_0 + α_1 = 0 and
    α_98 − 2α_99 + α_100 = 0."""
    n = BELLE2_N_GEN_BINS
    a = np.zeros((n + 2, n + 2))
    rhs = np.zeros((n + 2, n))
    for j in range(n):
        a[j + 1, j:j + 3] = np.array([1.0, 4.0, 1.0]) / 6.0
        rhs[j + 1, j] = 1.0
    a[0, 0:3] = (1.0, -2.0, 1.0)
    a[n + 1, n - 1:n + 2] = (1.0, -2.0, 1.0)
    return np.linalg.solve(a, rhs)


_SPLINE_COEFFICIENTS = _natural_spline_coefficients()


def _cubic_b_spline(u):
    """Uniform cubic B-spline B(u) (support |u| < 2, C²): 2/3 − u² + |u|³/2 for |u| ≤ 1,
    (2 − |u|)³/6 for 1 ≤ |u| ≤ 2. A piece is chosen per knot by comparison only where both pieces
    agree to second order, so a rounding-dependent choice never changes a value or derivative."""
    a = jnp.abs(u)
    return jnp.where(a <= 1.0, 2.0 / 3.0 - u**2 + 0.5 * a**3, jnp.maximum(2.0 - a, 0.0) ** 3 / 6.0)


def _spline_weights(q2_x):
    """Cardinal weights of natural cubic-spline interpolation in q² through the generator-bin centres
    (docs/physics/b-to-k-nunu.md §6): w_j(q²) such that Σ_j w_j(q²) y_j is the natural cubic spline
    through (c_j, y_j), continued by its tangent lines over the outer half bins [0, c_1] and
    [c_100, 22.885] GeV² (C² there too: the natural spline has s'' = 0 at its ends).

    With x = (q² − c_1)/Δ and x̄ = clip(x, 0, 99): w(x) = Aᵀ b(x̄) + (x − x̄) Aᵀ b′(x̄), b_k(x) = B(x − k)
    (:func:`_cubic_b_spline`, k = −1…100), A from :func:`_natural_spline_coefficients`. Dense (102 knots):
    no interval index is computed, so the result cannot depend on how XLA rounds x at a centre (an
    index-based version gave a wrong jitted reverse-mode gradient exactly at centres)."""
    edges = belle2_generator_bin_edges()
    step = edges[1] - edges[0]
    n = BELLE2_N_GEN_BINS
    x = (q2_x - 0.5 * (edges[0] + edges[1])) / step
    x_in = jnp.clip(x, 0.0, n - 1.0)
    knots = jnp.arange(-1.0, n + 1.0)
    basis, slope = jax.jvp(lambda v: _cubic_b_spline(v - knots), (x_in,), (jnp.ones_like(x_in),))
    return (basis + (x - x_in) * slope) @ jnp.asarray(_SPLINE_COEFFICIENTS)


def _breit_wigner_weights(m_x, width):
    """Relativistic Breit–Wigner 1/((q² − m²)² + m²Γ²) integrated exactly over each generator bin
    (docs/physics/b-to-k-nunu.md §6): ∝ arctan((q² − m²)/(mΓ)) differences, normalised to 0 ≤ q² ≤
    22.885 GeV²."""
    edges = jnp.asarray(belle2_generator_bin_edges())
    m_gamma = jnp.maximum(m_x * width, _MIN_MASS_WIDTH)
    cdf = jnp.arctan((edges - m_x**2) / m_gamma)
    return jnp.diff(cdf) / (cdf[-1] - cdf[0])


def two_body_bin_weights(m_x, width=None, shape="interpolate"):
    """Weights of a B⁺ → K⁺X line (q² = m_X²) on the 100 Belle II generator bins
    (docs/physics/belle2-likelihood.md §9.8; docs/physics/b-to-k-nunu.md §6). m_x [GeV] (a scalar;
    vmap for batches), width Γ_X [GeV] (only for ``shape="breit-wigner"``). The expected events of
    reconstructed bin i are Σ_j k_ij B w_j.

    * ``"interpolate"`` (default): a δ-line δ(q² − m_X²) whose detector response k_i(q²) is the
      **natural cubic spline in q² through the per-bin responses k_ij at the bin centres c_j**,
      continued linearly over the outer half bins. Σ_j k_ij w_j(m_X²) is that spline, so w_j are the
      spline's cardinal functions (:func:`_spline_weights`). Why: the binned response is all the
      data give; a δ-line must reproduce it at the centres (w_j(c_k) = δ_jk) and keep its total
      weight (Σ_j w_j = 1 for every m_X, and Σ_j w_j c_j = m_X², the line's mean); the cubic spline
      is the interpolant that does so and is **C² in m_X** (the likelihood's curvature, hence
      Hessian errors and NUTS, is continuous), with O(Δ⁴) interpolation error inside and an
      O(Δ²) one in the first/last few bins (natural end conditions). Linear interpolation (hat
      functions) kinks −2 ln L at every centre; a Gaussian/Breit–Wigner smearing would not
      reproduce the response at the centres. Cost of the smoothness: the cardinal functions have
      negative lobes (w_j ≥ −0.17 between the centres; in the outer half bins, m_X < 0.338 GeV or
      > 4.772 GeV, the linear continuation reaches w = 1.63 and −0.80), so single w_j can be < 0;
      for the shipped Belle II densities the interpolated response never falls below −0.35 % of its
      peak (where k_ij = 0): a line of BR·P_inv = 10⁻⁴ lowers no signal bin's expectation by more
      than 16 % of its SM value, and the background keeps every count positive. Linear in B, hence
      exactly additive over lines.
    * ``"breit-wigner"``: relativistic BW of width Γ_X in q², exact bin integrals, normalised to the
      generator range (m_XΓ_X floored at 1e-12 GeV²; C^∞ in m_X, weights ≥ 0).
    Both sum to 1 for m_X² ≤ 22.885 GeV² and are exactly 0 above (channel closed).
    """
    check_choice("shape", shape, SHAPES)
    check_nonnegative("m_x", m_x, "GeV")
    m_x = jnp.asarray(m_x, dtype=jnp.float64)
    if shape == "interpolate":
        weights = _spline_weights(m_x**2)
    else:
        if width is None:
            raise ValueError("width = None is not allowed: shape='breit-wigner' needs a width > 0 [GeV]")
        check_nonnegative("width", width, "GeV")
        weights = _breit_wigner_weights(m_x, jnp.asarray(width, dtype=jnp.float64))
    return jnp.where(m_x**2 <= BELLE2_Q2_MAX_GEN, weights, 0.0)


def np_bin_branching_fractions(model, p, shape="interpolate", width=None):
    """B_NP,j = BR(B⁺ → K⁺X) P_inv × w_j(m_X) on the 100 generator bins
    (docs/physics/belle2-likelihood.md §9.8).

    ``model``: a bkdm.models module (uses ``mediator_mass``, ``br_b_to_k_invisible`` and, for
    ``shape="breit-wigner"`` with ``width=None``, ``total_width``); ``p``: its ``Params``.
    """
    check_choice("shape", shape, SHAPES)
    if shape == "breit-wigner" and width is None:
        width = model.total_width(p)
    weights = two_body_bin_weights(model.mediator_mass(p), width, shape)
    return model.br_b_to_k_invisible(p) * weights
