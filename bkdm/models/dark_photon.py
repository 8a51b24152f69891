"""Dark-photon portal with Majorana dark matter — [C] Sec. III (docs/physics/dark-photon.md §4).

[C] = Calibbi, Li, Mukherjee, Schmidt, arXiv:2502.04900. A dark photon X (mass m_X) of a broken
U(1)_X mixes kinetically (ε) and by mass mixing (δ) with the SM neutral bosons; the dark Higgs
h′ (mass m_h′, mixing θ with the SM Higgs) and a Majorana fermion ψ (the DM, mass m_ψ) complete
the dark sector. The mass ordering of [C] is m_h′ < m_ψ < m_X/2: ψψ → h′h′ sets the relic density
by freeze-out and X → ψψ is open, so B⁺ → K⁺X with X → ψψ is the invisible signal.

Units: GeV (natural units) everywhere unless a docstring says otherwise; cross sections GeV⁻².
All equations of [C] are stripped in our copy; the forms below are the reconstructions of
docs/physics/dark-photon.md §4.

Coupling conventions (docs/physics/constants.md §1.2, docs/physics/dark-photon.md §4.1):
* photon-like coupling ε e with e = √(4π α(0)) (α(0): "the fine structure constant" of [C] (39));
* Z-like couplings ε_Z g/(2c_W) with g = 2 m_W/v (G_F scheme, as docs/physics/dark-photon.md §4.4 uses
  for g_bs) and the on-shell c_W = m_W/m_Z, s_W² = 1 − m_W²/m_Z² (docs/physics/constants.md §1.2),
  so g/(2c_W) = m_Z/v. The ν width of [C] (39), ε_Z² α m_X/(24 s_W² c_W²) is the same thing with α → g²
  s_W²/(4π) = 1/132.2.
"""

import math

import jax
import jax.numpy as jnp

from bkdm import formfactors as ff
from bkdm._validation import check_range, is_concrete
from bkdm.constants import (
    ALPHA_EM_0,
    GAMMA_B_PLUS,
    HBAR_GEV_S,
    HBARC_GEV_M,
    LEPTON_MASSES,
    LEPTONS,
    M_B_PLUS,
    M_E,
    M_K_PLUS,
    M_KSTAR_PLUS,
    M_T,
    M_W,
    M_Z,
    N_COLOURS,
    QUARK_CHARGES,
    QUARK_MASSES,
    QUARKS,
    SIN2_THETA_W_ONSHELL,
    V_HIGGS,
    VTB_VTS,
)
from bkdm.cosmo import averages, freeze_out, solver
from bkdm.kinematics import is_open, safe_pow, sqrt_kallen, threshold_beta
from bkdm.models import base
from bkdm.models.base import Condition, ModelParams, ParameterInfo, param
from bkdm.qcd import alpha_s

NAME = "dark-photon"
SOURCE = ("Calibbi, Li, Mukherjee, Schmidt, arXiv:2502.04900, Sec. III (dark-photon portal, "
          "Majorana DM, freeze-out into dark Higgs pairs)")

# --- electroweak inputs of the dark-photon couplings (docs/physics/constants.md §1.2,
# docs/physics/dark-photon.md §4.1) ----------------------------
E_CHARGE = math.sqrt(4.0 * math.pi * ALPHA_EM_0)  # e = √(4πα(0))
G_WEAK = 2.0 * M_W / V_HIGGS  # g = 2 m_W / v = 0.6528
COS_W = M_W / M_Z  # on-shell c_W
SIN2_W = SIN2_THETA_W_ONSHELL  # on-shell s_W² = 0.22321
TAN_W = math.sqrt(SIN2_W) / COS_W
G_Z = G_WEAK / (2.0 * COS_W)  # g/(2c_W) = m_Z/v
X_TOP = (M_T / M_W) ** 2  # x_t = m_t²/m_W² = 4.61
ATOMIC_MASS_UNIT = 0.93149410242  # u [GeV] (CODATA 2018); nucleus mass ≃ A u
GEV2_TO_CM2 = 0.3893793721e-27  # 1 GeV⁻² = (ħc)² in cm²
GEV_TO_GRAM = 1.78266192e-24  # 1 GeV/c² in g

# (T₃, Q) of the SM fermions (docs/physics/dark-photon.md §4.1, [C] (34))
_T3_LEPTON, _Q_LEPTON = -0.5, -1.0
_T3_QUARK = {"u": 0.5, "c": 0.5, "d": -0.5, "s": -0.5, "b": -0.5}
HADRON_QUARKS = QUARKS[:5]  # u, d, s, c, b


class Params(ModelParams):
    """Parameters of the dark-photon model (masses in GeV; docs/physics/dark-photon.md §4.1–4.2,
    [C] (31)–(38)).

    m_x      dark-photon mass m_X
    epsilon  kinetic mixing ε ≥ 0
    delta    mass-mixing parameter δ of [C] (36), signed
    alpha_x  dark fine-structure constant α_X = g_X²/4π > 0
    m_psi    Majorana DM mass m_ψ
    m_hp     dark Higgs mass m_h′
    q_s      dark charge Q_S of the dark Higgs S (default 1)
    theta    h′–h mixing angle θ ≥ 0 (default 0)

    Mass ordering of [C]: 0 < m_hp < m_psi (freeze-out into h′h′) and m_psi < m_x/2 (X → ψψ open).
    """

    m_x: jnp.ndarray = param()
    epsilon: jnp.ndarray = param()
    delta: jnp.ndarray = param()
    alpha_x: jnp.ndarray = param()
    m_psi: jnp.ndarray = param()
    m_hp: jnp.ndarray = param()
    q_s: jnp.ndarray = param(1.0)
    theta: jnp.ndarray = param(0.0)

    def validate(self):
        base.check_conditions(CONDITIONS, self)


PARAMETERS = {
    "m_x": ParameterInfo("GeV", "dark-photon mass m_X", 0.0, None, log_scale=True),
    "epsilon": ParameterInfo("", "kinetic mixing ε", 0.0, None, lower_open=False, log_scale=True),
    "delta": ParameterInfo("", "mass-mixing parameter δ of [C] (36), ε_Z ⊃ (m_X/m_Z) δ", None, None),
    "alpha_x": ParameterInfo("", "dark fine-structure constant α_X = g_X²/4π", 0.0, None, log_scale=True),
    "m_psi": ParameterInfo("GeV", "Majorana DM mass m_ψ (m_h′ < m_ψ < m_X/2)", 0.0, None, log_scale=True),
    "m_hp": ParameterInfo("GeV", "dark Higgs mass m_h′ (< m_ψ)", 0.0, None, log_scale=True),
    "q_s": ParameterInfo("", "dark charge Q_S of the dark Higgs S", 0.0, None),
    "theta": ParameterInfo("", "h′–h mixing angle θ", 0.0, None, lower_open=False, log_scale=True),
}


def _br_detail(p):
    """Eager text for a BR > 1 error: the BRs, ε_Z and the largest |ε_Z| allowed."""
    br_k, br_ks = float(_width_b_to_k(p) / GAMMA_B_PLUS), float(_width_b_to_kstar(p) / GAMMA_B_PLUS)
    ez = abs(float(eps_z(p)))
    out = (f"BR(B⁺ → K⁺X) = {br_k:.3g}, BR(B⁺ → K*⁺X) = {br_ks:.3g} at m_x = {float(p.m_x):.4g} GeV, "
           f"ε_Z = {ez:.3g}")
    if br_k + br_ks > 0:  # BR ∝ ε_Z²
        out += f" (the sum ≤ 1 needs |ε_Z| ≤ {ez / (br_k + br_ks) ** 0.5:.3g})"
    return out


# Validity conditions (bkdm.models.base, "Validity"): checked eagerly by Params, NaN/status under jit.
CONDITIONS = (
    base.positive("m_x", "GeV"),
    base.nonnegative("epsilon"),
    base.finite("delta"),
    base.positive("alpha_x"),
    base.positive("q_s"),
    base.nonnegative("theta"),
    base.positive("m_psi", "GeV"),
    Condition("m_hp", "0 < m_hp < m_psi",
              lambda p: jnp.isfinite(p.m_hp) & (p.m_hp > 0.0) & (p.m_hp < p.m_psi), "GeV",
              involves=("m_hp", "m_psi"), why="freeze-out ψψ → h′h′ of [C] needs 0 < m_hp < m_psi"),
    Condition("m_psi", "m_psi < m_x/2", lambda p: p.m_psi < 0.5 * p.m_x, "GeV", involves=("m_psi", "m_x"),
              why="the invisible decay X → ψψ of [C] needs m_psi < m_x/2"),
    Condition("delta", "BR(B⁺ → K⁺X) + BR(B⁺ → K*⁺X) ≤ 1",
              lambda p: (_width_b_to_k(p) + _width_b_to_kstar(p)) / GAMMA_B_PLUS <= 1.0,
              why="a rate above the B⁺ width is outside the model's validity",
              involves=("delta", "epsilon", "m_x"), detail=_br_detail),
)


def validity_status(p):
    """0 where ``p`` satisfies every condition of ``CONDITIONS``, else ``solver.STATUS_INVALID_INPUT``."""
    return base.validity_status(CONDITIONS, p)


def _valid(p, value):
    """``value`` (array or dict of arrays) at a valid ``p``, NaN at an invalid one (traced inputs)."""
    return jax.tree_util.tree_map(lambda v: base.nan_unless_valid(CONDITIONS, p, v), value)


# ---------------------------------------------------------------------------- derived couplings
def g_x(p):
    """Dark gauge coupling g_X = √(4π α_X)."""
    return jnp.sqrt(4.0 * jnp.pi * p.alpha_x)


def v_s(p):
    """Dark Higgs vev v_S = m_X/(g_X Q_S) [GeV] (docs/physics/dark-photon.md §4.1, [C] (32))."""
    return p.m_x / (g_x(p) * p.q_s)


def g_psi(p):
    """Axial X–ψ coupling g_ψ = g_X Q_S/2 (docs/physics/dark-photon.md §4.2, [C] (38))."""
    return 0.5 * g_x(p) * p.q_s


def y_psi(p):
    """h′–ψ Yukawa y_ψ = m_ψ/v_S = g_X Q_S m_ψ/m_X (docs/physics/dark-photon.md §4.2, [C] (38))."""
    return p.m_psi / v_s(p)


def eps_z(p):
    """Z-current coupling ε_Z = ε t_W m_X²/m_Z² + (m_X/m_Z) δ (docs/physics/dark-photon.md §4.1,
    [C] (35)+(36)).

    [C] (35) is the kinetic-mixing piece; [C] (36) parametrises the mass mixing of the second
    dark-charged Higgs doublet (Davoudiasl–Lee–Marciano) as (m_X/m_Z) δ. Here the δ piece is
    *added* to the kinetic one (δ is signed, so any relative sign convention is absorbed); for
    the ε ≲ 10⁻³ of [C] the kinetic piece is ~10⁻⁷ and ε_Z ≃ (m_X/m_Z) δ as in [C]. t_W is the
    on-shell tan θ_W (docs/physics/constants.md §1.2).
    """
    return p.epsilon * TAN_W * p.m_x**2 / M_Z**2 + p.m_x / M_Z * p.delta


def _couplings(p, charge, t3):
    """(g_V, g_A) of X to a SM fermion: g_V = ε e Q + ε_Z (g/2c_W)(T₃ − 2Q s_W²), g_A = ε_Z (g/2c_W) T₃
    (docs/physics/dark-photon.md §4.3, [C] (34))."""
    ez = eps_z(p)
    return p.epsilon * E_CHARGE * charge + ez * G_Z * (t3 - 2.0 * charge * SIN2_W), ez * G_Z * t3


# ---------------------------------------------------------------- X widths (docs/physics/dark-photon.md §4.3)
def _width_to_fermion_pair(m_x, m_f, g_v, g_a, n_c):
    """Γ(X → f f̄) = N_c m_X/(12π) √(1−4r) [g_V²(1+2r) + g_A²(1−4r)], r = m_f²/m_X²
    (docs/physics/dark-photon.md §4.3); exactly 0 below threshold."""
    r = m_f**2 / m_x**2
    beta = threshold_beta(m_x, m_f)
    return n_c * m_x / (12.0 * jnp.pi) * beta * (g_v**2 * (1.0 + 2.0 * r) + g_a**2 * (1.0 - 4.0 * r))


def width_to_leptons(p, lepton):
    """Γ(X → ℓ⁺ℓ⁻) [GeV], ℓ ∈ {'e', 'mu', 'tau'}: exact tree level
    (docs/physics/dark-photon.md §4.3, [C] (39))."""
    g_v, g_a = _couplings(p, _Q_LEPTON, _T3_LEPTON)
    return _width_to_fermion_pair(p.m_x, LEPTON_MASSES[LEPTONS.index(lepton)], g_v, g_a, 1.0)


def width_to_neutrinos(p):
    """Γ(X → νν̄) summed over 3 flavours [GeV]: 3 ε_Z² g² m_X/(96π c_W²)
    (docs/physics/dark-photon.md §4.3, [C] (39);
    = 3 ε_Z² α m_X/(24 s_W² c_W²) with α = g² s_W²/4π)."""
    return 3.0 * eps_z(p) ** 2 * G_WEAK**2 * p.m_x / (96.0 * jnp.pi * COS_W**2)


def width_to_hadrons(p):
    """Γ(X → hadrons) [GeV]: perturbative quark-level width (docs/physics/dark-photon.md §4.3 formula with
    the quark g_V, g_A and N_c = 3) summed over u, d, s, c, b above 2 m_q, times the QCD factor
    1 + α_s(m_X)/π.

    Validity: m_X ≳ 1.5 GeV, above the ρ/ω/φ resonance region and away from the charm threshold
    (3–4 GeV), where quark–hadron duality holds at the 10 % level ([C] (39) uses the measured R ratio
    instead, which this reproduces there: R(2 GeV) ≃ 2(1 + α_s/π) ≃ 2.2). Below ~1.5 GeV it is only
    indicative; for [C]'s parameter space Γ(X → ψψ) dominates and the hadronic width barely matters.
    Quark masses are the MS-bar values of docs/physics/constants.md §1.1 (model choice).
    """
    total = 0.0
    for q in HADRON_QUARKS:
        i = QUARKS.index(q)
        g_v, g_a = _couplings(p, QUARK_CHARGES[i], _T3_QUARK[q])
        total = total + _width_to_fermion_pair(p.m_x, QUARK_MASSES[i], g_v, g_a, N_COLOURS)
    return total * (1.0 + alpha_s(p.m_x) / jnp.pi)


def width_to_dm(p):
    """Γ(X → ψψ) = g_ψ² m_X/(24π) (1 − 4m_ψ²/m_X²)^{3/2} [GeV] (docs/physics/dark-photon.md §4.3,
    [C] (40)); the β³ is from the axial coupling, ½ for identical Majorana fermions. 0 below threshold."""
    return g_psi(p) ** 2 * p.m_x / (24.0 * jnp.pi) * threshold_beta(p.m_x, p.m_psi) ** 3


def widths(p):
    """Partial widths of X [GeV]: 'ee', 'mumu', 'tautau', 'nunu' (3 flavours), 'hadrons', 'psipsi'
    (NaN at a point outside the model's validity, ``CONDITIONS``)."""
    return _valid(p, {
        "ee": width_to_leptons(p, "e"),
        "mumu": width_to_leptons(p, "mu"),
        "tautau": width_to_leptons(p, "tau"),
        "nunu": width_to_neutrinos(p),
        "hadrons": width_to_hadrons(p),
        "psipsi": width_to_dm(p),
    })


def total_width(p):
    """Total width of X, Σ widths(p) [GeV]."""
    return sum(widths(p).values())


def _positive_or_one(x):
    return jnp.where(x > 0.0, x, 1.0)


def decay_length(p):
    """Proper decay length cτ_X = ħc/Γ_X [m] (lab length: multiply by |p_X|/m_X); +inf if no
    channel is open (only reachable under jit, where the mass ordering is not checked)."""
    gamma = total_width(p)
    return jnp.where(gamma > 0.0, HBARC_GEV_M / _positive_or_one(gamma), jnp.inf)


def invisible_fraction(p):
    """Probability that X is unseen at Belle II: BR(X → ψψ) + BR(X → νν̄)
    (docs/physics/dark-photon.md §4.3–4.4).

    X decays promptly ([C]: cτ_X ≪ mm already with SM decays only, and Γ(X → ψψ) is not
    ε-suppressed), so X → e⁺e⁻, μ⁺μ⁻, τ⁺τ⁻, hadrons happen inside the detector and are visible;
    the escape probability of visible decays is neglected.
    """
    w = widths(p)
    gamma = sum(w.values())
    return _valid(p, jnp.where(gamma > 0.0, (w["psipsi"] + w["nunu"]) / _positive_or_one(gamma), 0.0))


ALIASES = {}
OPTIONS = ()
# [C] Sec. III ordering m_h' < m_psi < m_x/2; delta gives BR(B+ -> K+ X) ≈ 1e-5, alpha_x gives
# Omega h^2 ≈ 0.12 (the start point of the shipped fit dark-photon): default of `bkdm info`/`relic`
BENCHMARK = {"m_x": 2.1, "epsilon": 1e-3, "delta": 5e-3, "alpha_x": 2.33e-3, "m_psi": 0.3, "m_hp": 0.05,
             "q_s": 1.0, "theta": 0.0}
DM_DOF = 2.0  # Majorana ψ
SYMBOLS = {"m_x": "m_X", "epsilon": r"\varepsilon", "delta": r"\delta", "alpha_x": r"\alpha_X",
           "m_psi": r"m_\psi", "m_hp": r"m_{h'}", "q_s": "Q_S", "theta": r"\theta"}


def mediator_mass(p):
    """Mass of the boson produced in B → K X: m_X [GeV]."""
    return p.m_x


def dm_mass(p):
    """Dark-matter mass m_ψ [GeV]."""
    return p.m_psi


# -------------------------------------------------------------- B → K(*) X (docs/physics/dark-photon.md §4.4)
def inami_lim_c0(x):
    """Inami–Lim C₀(x) = x/8 [(x−6)/(x−1) + (3x+2)/(x−1)² ln
    x] (docs/physics/dark-photon.md §4.4, [C] (42))."""
    return x / 8.0 * ((x - 6.0) / (x - 1.0) + (3.0 * x + 2.0) / (x - 1.0) ** 2 * jnp.log(x))


def g_bs(p):
    """Effective X s̄ γ^μ P_L b coupling g_bs ≃ ε_Z g³/(8π² c_W) |V_tb V_ts*| C₀(x_t)
    (docs/physics/dark-photon.md §4.4, [C] (42)).

    Reconstruction: ε_Z times the SM one-loop Z s̄b vertex (the photon monopole vanishes);
    |g_bs| ≃ 1.39×10⁻⁴ ε_Z. The CKM phase is dropped (only |g_bs|² enters the rates).
    """
    return eps_z(p) * G_WEAK**3 / (8.0 * jnp.pi**2 * COS_W) * VTB_VTS * inami_lim_c0(X_TOP)


def _check_channel_open(p, m_meson, channel):
    """Eager request of a closed B⁺ → M X channel → ValueError naming m_x (skipped under jit)."""
    if is_concrete(p.m_x):
        check_range("m_x", p.m_x, hi=M_B_PLUS - m_meson, unit="GeV", hi_open=True,
                    why=f"{channel} is kinematically closed")


def _safe_q2(p, m_meson):
    """(open mask, q² = m_X²) with q² replaced by a harmless value where the channel is closed."""
    open_ = is_open(M_B_PLUS, m_meson, p.m_x)
    return open_, jnp.where(open_, p.m_x**2, 1.0)


def _width_b_to_k(p, ff_alpha=None):
    """Γ(B⁺ → K⁺X) = |g_V|² λ^{3/2} f₊²(m_X²)/(16π m_B³ m_X²), g_V = g_bs/2
    (docs/physics/dark-photon.md §4.4, [C] (43))."""
    open_, q2 = _safe_q2(p, M_K_PLUS)
    lam32 = safe_pow(sqrt_kallen(M_B_PLUS, M_K_PLUS, p.m_x), 3.0)
    g_v = 0.5 * g_bs(p)
    width = g_v**2 * lam32 * ff.bk_f_plus(q2, ff_alpha) ** 2 / (16.0 * jnp.pi * M_B_PLUS**3 * q2)
    return jnp.where(open_, width, 0.0)


def _helicity_amplitudes(p, ff_alpha=None):
    open_, q2 = _safe_q2(p, M_KSTAR_PLUS)
    m_b, m_v = M_B_PLUS, M_KSTAR_PLUS
    g_v = g_a = 0.5 * g_bs(p)
    sqrt_lam = sqrt_kallen(m_b, m_v, p.m_x)
    axial = g_a * (m_b + m_v) * ff.bkstar_a1(q2, ff_alpha)
    vector = g_v * sqrt_lam / (m_b + m_v) * ff.bkstar_v(q2, ff_alpha)
    h0 = g_a * 8.0 * m_b * m_v / jnp.sqrt(q2) * ff.bkstar_a12(q2, ff_alpha)
    return tuple(jnp.where(open_, h, 0.0) for h in (h0, axial - vector, axial + vector))


def helicity_amplitudes_kstar(p, ff_alpha=None):
    """(H₀, H₊, H₋) of B⁺ → K*⁺X [GeV] (docs/physics/dark-photon.md §4.4, [C] (45),(46)), g_V = g_A = g_bs/2:
    H± = g_A (m_B+m_K*) A₁ ∓ g_V λ^{1/2}/(m_B+m_K*) V,  H₀ = g_A 8 m_B m_K* A₁₂/m_X (at q² = m_X²).
    ``ff_alpha``: optional GRvDV B→K* coefficient vector (form-factor nuisances)."""
    _check_channel_open(p, M_KSTAR_PLUS, "B+ -> K*+ X")
    return _helicity_amplitudes(p, ff_alpha)


def _width_b_to_kstar(p, ff_alpha=None):
    """Γ(B⁺ → K*⁺X) = λ^{1/2}/(16π m_B³) (|H₀|² + |H₊|² + |H₋|²)
    (docs/physics/dark-photon.md §4.4, [C] (44))."""
    sqrt_lam = sqrt_kallen(M_B_PLUS, M_KSTAR_PLUS, p.m_x)
    return sqrt_lam / (16.0 * jnp.pi * M_B_PLUS**3) * sum(h**2 for h in _helicity_amplitudes(p, ff_alpha))


def br_b_to_k(p, ff_alpha=None):
    """BR(B⁺ → K⁺X) = Γ/Γ_B⁺ (docs/physics/dark-photon.md §4.4, [C] (43); GRvDV f₊,
    optional coefficient vector ``ff_alpha``). Eagerly, a closed channel (m_X ≥ m_B − m_K) raises ValueError;
    under jit it is exactly 0, and NaN at a point outside the model's validity."""
    _check_channel_open(p, M_K_PLUS, "B+ -> K+ X")
    return _valid(p, _width_b_to_k(p, ff_alpha) / GAMMA_B_PLUS)


def br_b_to_kstar(p, ff_alpha=None):
    """BR(B⁺ → K*⁺X) (docs/physics/dark-photon.md §4.4, [C] (44)–(46); GRvDV A₁, V, A₁₂,
    m_K*⁺ = 0.89167 GeV; optional B→K* coefficient vector ``ff_alpha``). Eagerly,
    a closed channel (m_X ≥ m_B − m_K*) raises ValueError; under jit it is exactly 0,
    and NaN at a point outside the model's validity."""
    _check_channel_open(p, M_KSTAR_PLUS, "B+ -> K*+ X")
    return _valid(p, _width_b_to_kstar(p, ff_alpha) / GAMMA_B_PLUS)


def br_b_to_k_invisible(p, ff_alpha=None):
    """BR(B⁺ → K⁺X) × invisible fraction: narrow-width B → Kψψ (+ Kνν̄ via X)
    (docs/physics/dark-photon.md §4.4, [C] (41))."""
    return br_b_to_k(p, ff_alpha) * invisible_fraction(p)


# -------------------------------------------------------------- freeze-out (docs/physics/dark-photon.md §4.5)
def sigma_v_rel_pwave_coefficient(p):
    """b [GeV⁻²] with σ v_rel = b v_rel² for ψψ → h′h′ (docs/physics/dark-photon.md §4.5,
    [C] (48)), r = m_h′/m_ψ: b = y_ψ⁴/m_ψ² · √(1−r²)(9 − 8r² + 2r⁴)/(24π(2 − r²)⁴)
    → 3 y_ψ⁴/(128π m_ψ²) at r → 0. The s-channel h′ diagram (cubic scalar coupling)
    is neglected, as in [C]."""
    r2 = (p.m_hp / p.m_psi) ** 2
    shape = jnp.sqrt(1.0 - r2) * (9.0 - 8.0 * r2 + 2.0 * r2**2) / (24.0 * jnp.pi * (2.0 - r2) ** 4)
    return y_psi(p) ** 4 / p.m_psi**2 * shape


def sigma_v_thermal_nr(p, x):
    """Leading-order ⟨σv⟩ = 6b/x [GeV⁻²], x = m_ψ/T (docs/physics/dark-photon.md §4.5, [C] (48)).

    The 6/x of docs/physics/dark-photon.md §4.5 is right for σv_rel = b v_rel²: for Maxwell–Boltzmann ψ
    each velocity has ⟨v²⟩ = 3T/m, so ⟨v_rel²⟩ = ⟨(v₁−v₂)²⟩ = 6T/m = 6/x; the exact
    (Gondolo–Gelmini) average of ``sigma_annihilation`` approaches it with relative corrections O(1/x).
    """
    return 6.0 * sigma_v_rel_pwave_coefficient(p) / x


def _atanh_minus_w_over_w3(w):
    """h(w) = (artanh w − w)/w³ = Σ_k w^{2k}/(2k+3), series below w = 0.1 (no cancellation)."""
    small = w < 0.1
    w2 = w * w
    series = sum(w2**k / (2 * k + 3) for k in range(9))  # next term < 1e-18
    w_big = jnp.where(small, 0.5, w)
    return jnp.where(small, series, (jnp.arctanh(w_big) - w_big) / w_big**3)


def sigma_annihilation(p, s):
    """Exact tree-level σ(ψψ → h′h′)(s) [GeV⁻²], s = CM energy²
    [GeV²] (docs/physics/dark-photon.md §4.5, [C] (48); D).

    Majorana ψ, t- and u-channel ψ exchange with vertex −i y_ψ, spin average ¼, identical-h′
    factor ½. Σ|M|² = y⁴{−8 − 2K(1/A² + 1/B²) − P/a (1/A + 1/B)}, A = t − m², B = u − m², with
    K = (4m² − m_h²)², a = s/2 − m_h², P = s² + 16m²s − 4m_h²s − 32m⁴ − 16m²m_h² + 6m_h⁴
    (sympy trace, checked against explicit Dirac matrices; docs/physics/dark-photon.md §4.5). Integrating over
    t (|A|, |B| ∈ [a−b, a+b], b = √((s−4m²)(s−4m_h²))/2, w = b/a) and cancelling the s-wave zero analytically:
        σ = y⁴ β_i β_f/(256π) [Ñ/(a²(a² − b²)) + P (s − 4m_h²) h(w)/a⁴],
        Ñ = 2(16m⁴s − 64m⁴m_h² + 8m²m_h²s − m_h⁴s + 4m_h⁶),  a² − b² = m²(s − 4m_h²) + m_h⁴,
        h(w) = (artanh w − w)/w³,  β_{i,f} = √(1 − 4m_{ψ,h′}²/s).
    Near threshold σ·2β_i → b v_rel² of ``sigma_v_rel_pwave_coefficient``. 0 below threshold.
    The s-channel h′ diagram is neglected, as in [C].
    """
    m2, mh2 = p.m_psi**2, p.m_hp**2
    s = jnp.asarray(s, dtype=jnp.float64)
    open_ = (s > 4.0 * m2) & (s > 4.0 * mh2)
    s = jnp.where(open_, s, 8.0 * jnp.maximum(m2, mh2))
    beta_i = jnp.sqrt(1.0 - 4.0 * m2 / s)
    beta_f = jnp.sqrt(1.0 - 4.0 * mh2 / s)
    a = 0.5 * s - mh2
    a2_minus_b2 = m2 * (s - 4.0 * mh2) + mh2**2
    w = 0.5 * s * beta_i * beta_f / a
    n_tilde = 2.0 * (16.0 * m2**2 * s - 64.0 * m2**2 * mh2 + 8.0 * m2 * mh2 * s - mh2**2 * s + 4.0 * mh2**3)
    big_p = s**2 + 16.0 * m2 * s - 4.0 * mh2 * s - 32.0 * m2**2 - 16.0 * m2 * mh2 + 6.0 * mh2**2
    bracket = n_tilde / (a**2 * a2_minus_b2) + big_p * (s - 4.0 * mh2) * _atanh_minus_w_over_w3(w) / a**4
    sigma = y_psi(p) ** 4 * beta_i * beta_f / (256.0 * jnp.pi) * bracket
    return jnp.where(open_, sigma, 0.0)


# -------------------------------------------------------------- dark Higgs (docs/physics/dark-photon.md §4.6)
def width_hp_to_ee(p):
    """Γ(h′ → e⁺e⁻) = θ² m_e² m_h′/(8π v²) (1 − 4m_e²/m_h′²)^{3/2}
    [GeV] (docs/physics/dark-photon.md §4.6, [C] (50)); 0 below threshold."""
    return p.theta**2 * M_E**2 * p.m_hp / (8.0 * jnp.pi * V_HIGGS**2) * threshold_beta(p.m_hp, M_E) ** 3


def lifetime_hp(p):
    """h′ lifetime ħ/Γ(h′ → e⁺e⁻) [s] (docs/physics/dark-photon.md §4.6, [C] (50):
    e⁺e⁻ is the only channel kept, so the result holds for 2m_e < m_h′ ≲ 2m_μ). Eagerly m_h′ ≤ 2m_e raises
    ValueError; θ = 0 gives inf."""
    if is_concrete(p.m_hp):
        check_range("m_hp", p.m_hp, lo=2.0 * M_E, unit="GeV", lo_open=True,
                    why="lifetime_hp keeps only h′ → e⁺e⁻")
    width = width_hp_to_ee(p)
    pos = width > 0.0
    return jnp.where(pos, HBAR_GEV_S / jnp.where(pos, width, 1.0), jnp.inf)


# -------------------------------------------------------- direct detection (docs/physics/dark-photon.md §4.7)
def nucleon_couplings(p):
    """(f_p, f_n) = (2g_V^u + g_V^d, g_V^u + 2g_V^d) = (εe + ε_Z g/(2c_W)(½ − 2s_W²), −ε_Z g/(4c_W))
    (docs/physics/dark-photon.md §4.7, [C] (52))."""
    g_u, _ = _couplings(p, QUARK_CHARGES[0], _T3_QUARK["u"])
    g_d, _ = _couplings(p, QUARK_CHARGES[1], _T3_QUARK["d"])
    return 2.0 * g_u + g_d, g_u + 2.0 * g_d


def sigma_dm_nucleus(p, A, Z, v):
    """σ_ψN = g_ψ² μ_N² v² F_N²/(2π m_X⁴) [GeV⁻²], F_N = Z f_p + (A−Z) f_n (docs/physics/dark-photon.md §4.7,
    [C] (51)–(54)).

    Coherent vector part of the velocity-suppressed axial(ψ)×vector(N) contact interaction
    (q² ≪ m_X²), nuclear form factor neglected; v = DM–nucleus relative velocity in units of c;
    nucleus mass A·u. ×GEV2_TO_CM2 gives cm².
    """
    f_p, f_n = nucleon_couplings(p)
    m_n = A * ATOMIC_MASS_UNIT
    mu = p.m_psi * m_n / (p.m_psi + m_n)
    return g_psi(p) ** 2 * mu**2 * v**2 * (Z * f_p + (A - Z) * f_n) ** 2 / (2.0 * jnp.pi * p.m_x**4)


def sigma_dm_electron(p, v):
    """σ_ψe = g_ψ² μ_e² v² (g_V^e)²/(2π m_X⁴) [GeV⁻²] (docs/physics/dark-photon.md §4.7, [C] (55));
    v in units of c, exact reduced mass μ_e (≃ m_e for m_ψ ≫ m_e)."""
    g_e, _ = _couplings(p, _Q_LEPTON, _T3_LEPTON)
    mu = p.m_psi * M_E / (p.m_psi + M_E)
    return g_psi(p) ** 2 * mu**2 * v**2 * g_e**2 / (2.0 * jnp.pi * p.m_x**4)


def sigma_self_interaction(p):
    """σ_ψψ ~ g_ψ⁴ m_ψ²/(4π m_X⁴) [GeV⁻²] (docs/physics/dark-photon.md §4.7, [C] (56)): Born,
    contact limit m_X ≫ m_ψ v. ORDER OF MAGNITUDE only (an O(1) spin factor is not fixed,
    docs/physics/conventions.md §8.12)."""
    return g_psi(p) ** 4 * p.m_psi**2 / (4.0 * jnp.pi * p.m_x**4)


# ---------------------------------------------------------------------------- summary
def summary(p):
    """Named floats for ``bkdm info`` (eager, scalar parameters): couplings, widths [GeV], cτ [m],
    BRs, B⁺ rates (closed B decays reported as 0, no error), p-wave coefficient, h′ width, σ_SI/m."""
    w = widths(p)
    out = {"g_x": g_x(p), "v_s [GeV]": v_s(p), "g_psi": g_psi(p), "y_psi": y_psi(p),
           "eps_z": eps_z(p), "g_bs": g_bs(p)}
    out.update({f"Gamma(X->{k}) [GeV]": v for k, v in w.items()})
    gamma = sum(w.values())
    out.update({f"BR(X->{k})": v / _positive_or_one(gamma) for k, v in w.items()})
    br_k = _width_b_to_k(p) / GAMMA_B_PLUS
    out.update({
        "Gamma_total [GeV]": gamma,
        "c tau_X [m]": decay_length(p),
        "invisible fraction": invisible_fraction(p),
        "BR(B+->K+ X)": br_k,
        "BR(B+->K*+ X)": _width_b_to_kstar(p) / GAMMA_B_PLUS,
        "BR(B+->K+ inv)": br_k * invisible_fraction(p),
        "sigma v_rel / v_rel^2 [GeV^-2]": sigma_v_rel_pwave_coefficient(p),
        "Gamma(h'->ee) [GeV]": width_hp_to_ee(p),
        "sigma_SI/m_psi [cm^2/g] (order of magnitude)":
            sigma_self_interaction(p) * GEV2_TO_CM2 / (p.m_psi * GEV_TO_GRAM),
    })
    return {k: float(v) for k, v in out.items()}


# ----------------------------------------------------------- relic density (docs/physics/dark-photon.md §4.5)
def sigma_v_lab(p, eps):
    """σ·v_lab [GeV⁻²] of ψψ → h′h′ at s = 4m_ψ²(1+ε), v_lab = 2√(ε(1+ε))/(1+2ε)
    (docs/physics/resonant-alp.md §5.5)."""
    eps = jnp.asarray(eps, dtype=jnp.float64)
    v_lab = 2.0 * jnp.sqrt(eps * (1.0 + eps)) / (1.0 + 2.0 * eps)
    return sigma_annihilation(p, 4.0 * p.m_psi**2 * (1.0 + eps)) * v_lab


def thermal_sigma_v(T, p):
    """Gondolo–Gelmini ⟨σv⟩(T) [GeV⁻²] of ψψ → h′h′ from the exact σ (docs/physics/dark-photon.md §4.5,
    docs/physics/resonant-alp.md §5.5)."""
    return averages.sigma_v_gg(lambda eps: sigma_v_lab(p, eps), p.m_psi, T)


# a valid point solved in place of an invalid one (its result is discarded, base.safe_params):
# the benchmark of `bkdm info --model dark-photon`
_SAFE_POINT = Params(m_x=2.1, epsilon=1e-3, delta=5e-3, alpha_x=2.33e-3, m_psi=0.3, m_hp=0.05)


def relic(p, settings=solver.DEFAULT, history=0):
    """Freeze-out of ψ into h′h′ (docs/physics/dark-photon.md §4.5, [C] (48)–(49)):
    the NBE with g_ψ = 2 (Majorana) and the exact GG-averaged σ; returns a
    :class:`bkdm.cosmo.freeze_out.FreezeOutResult` (pure, jittable), NaN with ``status =
    solver.STATUS_INVALID_INPUT`` at a point outside the model's validity. ψψ → h′h′ has no s-channel
    resonance (the h′ pole lies below threshold, m_h′ < m_ψ), so ⟨σv⟩ is smooth in ln x and the tail uses the
    interpolated rule of ``freeze_out._tail_integral``."""
    status = validity_status(p)
    p = base.safe_params(p, status == 0, _SAFE_POINT)
    result = freeze_out.solve(thermal_sigma_v, p, p.m_psi, 2.0, settings, history=history,
                              tail="interpolated")
    return solver.with_input_status(result, status)


def omega_h2(p, settings=solver.DEFAULT):
    """Relic density Ω_ψ h² (docs/physics/dark-photon.md §4.5). Raises SolverError eagerly if the solve fails;
    NaN when traced."""
    r = relic(p, settings)
    return solver.checked(r.omega_h2, r.status, "dark-photon freeze-out")
