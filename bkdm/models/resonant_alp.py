"""Resonant ALP-portal dark matter of Ding et al., arXiv:2504.00383 ([D]);
docs/physics/resonant-alp.md §5.1–5.3.

A pseudoscalar a couples to photons (g_aγγ), to W bosons (g_aWW, which induces b → s a at one
loop) and to a Majorana fermion χ (g_aχχ, derivative coupling). Units: GeV (natural units) and
GeV⁻¹ for the couplings; the detector radius and decay lengths are in metres.

Conventions and known issues (docs/physics/conventions.md §8.6, §8.8):

* ``normalisation="consistent"`` (default) uses the χχ → γγ and χγ → χγ rates implied by the
  widths (2.6), (2.7) with the on-shell Majorana vertex y_χ γ₅, y_χ = 4 g_aχχ m_χ: this is ¼ of the
  printed (A.1) and 2× the printed (A.4). ``normalisation="as_printed"`` reproduces [D]'s formulas.
* (A.5), χa → χa, is dropped: the printed formula is garbled (undefined symbols, unbalanced
  brackets) and the process is Boltzmann suppressed by e^{−m_a/T} ≈ e^{−40} at freeze-out
  (docs/physics/resonant-alp.md §5.3).
* The invisible fraction combines [D]'s two scenarios — missing energy (5.3), BR(a → χχ), and an
  ALP escaping the detector before decaying to photons (5.1), (5.2) — into the physical
  BR(a → χχ) + BR(a → γγ)·P_a(R) with cτ_a = 1/Γ_a (total width). [D] treats the scenarios
  separately and writes τ_a ≃ 1/Γ_aγ, which is the same where BR(a → γγ) ≃ 1.
* m_χ > m_a/2 is allowed ([D] Fig. 3 runs to r = m_χ/m_a = 0.6): a → χχ is then closed.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bkdm import constants as c
from bkdm import formfactors
from bkdm._validation import check_choice, check_range
from bkdm.cosmo import averages, freeze_out, kinetic_decoupling, solver, thermo
from bkdm.kinematics import sqrt_kallen, threshold_beta, two_body_momentum
from bkdm.models import base
from bkdm.models.base import Condition, ModelParams, ParameterInfo, param

NAME = "resonant-alp"
SOURCE = ("Ding, Li, Liu, Liu, Lu, Zhu, 'Resonant ALP-portal dark matter annihilation as a solution "
          "to the B → Kνν̄ excess', arXiv:2504.00383")

NORMALISATIONS = ("consistent", "as_printed")
FORM_FACTORS = ("grvdv", "ding")
BOOSTS = ("exact", "ding")

PARAMETERS = {
    "m_a": ParameterInfo("GeV", "ALP mass", lower=0.0, log_scale=True),
    "m_chi": ParameterInfo("GeV", "Majorana dark-matter mass", lower=0.0, log_scale=True),
    "g_agg": ParameterInfo("GeV^-1", "ALP-photon coupling g_aγγ ([D] (2.3))", lower=0.0,
                           lower_open=False, log_scale=True),
    "g_aww": ParameterInfo("GeV^-1", "ALP-W coupling g_aWW = c_W/f_a ([D] (2.4))", lower=0.0,
                           lower_open=False, log_scale=True),
    "g_achichi": ParameterInfo("GeV^-1", "ALP-dark-matter coupling g_aχχ ([D] (2.5))", lower=0.0,
                               lower_open=False, log_scale=True),
    "detector_radius": ParameterInfo("m", "radius beyond which a → γγ is unseen ([D] (5.2))",
                                     lower=0.0),
}


class Params(ModelParams):
    """Parameters of [D]'s model: masses [GeV], couplings [GeV⁻¹], detector radius R [m].

    Static options: ``normalisation`` ∈ {"consistent", "as_printed"} (docs/physics/conventions.md §8.6),
    ``form_factor`` ∈ {"grvdv" (f₀ of GRvDV 2023), "ding" (F_K of [D] (3.3))} for B → K a,
    ``boost`` ∈ {"exact" (βγ = |p_a|/m_a in the B rest frame), "ding" (βγ ≃ m_B/(2m_a), [D] below (5.2))},
    ``br_limit`` (default True): BR(B⁺ → K⁺a) + BR(B⁺ → K*⁺a) ≤ 1 is part of the model's validity;
    False for cosmology-only studies at couplings flavour excludes ([D] Figs. 2–3 far from the
    resonance need g_aWW = g_aγγ ~ 0.1 GeV⁻¹): the point and its relic density are accepted, the
    B-decay branching ratios stay NaN there.
    """

    m_a: jnp.ndarray = param()
    m_chi: jnp.ndarray = param()
    g_agg: jnp.ndarray = param()
    g_aww: jnp.ndarray = param()
    g_achichi: jnp.ndarray = param()
    detector_radius: jnp.ndarray = param(c.DETECTOR_RADIUS_D)
    normalisation: str = eqx.field(static=True, default="consistent")
    form_factor: str = eqx.field(static=True, default="grvdv")
    boost: str = eqx.field(static=True, default="exact")
    br_limit: bool = eqx.field(static=True, default=True)

    @classmethod
    def cb_equals_cw(cls, m_a, m_chi, g_agg, g_achichi, **options):
        """[D]'s benchmark c_B = c_W, for which (2.3), (2.4) give g_aWW = g_aγγ."""
        return cls(m_a=m_a, m_chi=m_chi, g_agg=g_agg, g_aww=g_agg, g_achichi=g_achichi, **options)

    def validate(self):
        check_choice("normalisation", self.normalisation, NORMALISATIONS)
        check_choice("form_factor", self.form_factor, FORM_FACTORS)
        check_choice("boost", self.boost, BOOSTS)
        base.check_conditions(base.active(CONDITIONS, self), self)


# fit-level aliases (bkdm.inference.fitspec): r = m_χ/m_a ([D] fixes r, e.g. 0.477 in Table 1)
ALIASES = {"r": lambda value, values: {"m_chi": value * values["m_a"]}}
OPTIONS = ("normalisation", "form_factor", "boost")
RELIC_METHODS = ("cbe", "nbe")  # relic(p, method=...): coupled (Y, y) equations (default) or the NBE
# [D]: r = m_chi/m_a = 0.477 (Table 1), c_B = c_W (g_aww = g_agg), R = 1.5 m; g_achichi gives
# Omega h^2 ≈ 0.12 with the cBE (the start point of the shipped fit resonant-alp): default of `bkdm info`
BENCHMARK = {"m_a": 2.0, "r": 0.477, "g_agg": 1e-4, "g_aww": "g_agg", "g_achichi": 3.7e-5,
             "detector_radius": 1.5}
DM_DOF = 2.0  # Majorana χ
SYMBOLS = {"m_a": "m_a", "m_chi": r"m_\chi", "r": r"m_\chi/m_a", "g_agg": r"g_{a\gamma\gamma}",
           "g_aww": "g_{aWW}", "g_achichi": r"g_{a\chi\chi}", "detector_radius": "R"}


def _br_detail(p):
    """Eager text for a BR > 1 error: the BRs, g_aWW and the largest allowed."""
    br_k, br_ks = float(_br_b_to_k(p)), float(_br_b_to_kstar(p))
    out = f"BR(B⁺ → K⁺a) = {br_k:.3g}, BR(B⁺ → K*⁺a) = {br_ks:.3g} at m_a = {float(p.m_a):.4g} GeV"
    if br_k + br_ks > 0:  # BR ∝ g_aWW²
        out += f" (the sum ≤ 1 needs g_aww ≤ {float(p.g_aww) / (br_k + br_ks) ** 0.5:.3g} GeV^-1)"
    return out


# Validity conditions (bkdm.models.base, "Validity"): checked eagerly by Params, NaN/status under jit.
# m_chi > m_a/2 is allowed ([D] Fig. 3; a → χχ is then closed).
CONDITIONS = (
    base.positive("m_a", "GeV"),
    base.positive("m_chi", "GeV"),
    base.nonnegative("g_agg", "GeV^-1"),
    base.nonnegative("g_aww", "GeV^-1"),
    base.nonnegative("g_achichi", "GeV^-1"),
    base.positive("detector_radius", "m"),
    Condition("g_aww", "BR(B⁺ → K⁺a) + BR(B⁺ → K*⁺a) ≤ 1",
              lambda p: _br_b_to_k(p) + _br_b_to_kstar(p) <= 1.0, "GeV^-1",
              why="a rate above the B⁺ width is outside the model's validity",
              involves=("g_aww", "m_a"), detail=_br_detail, flavour=True),
)


def validity_status(p):
    """0 where ``p`` satisfies every condition of ``CONDITIONS``, else ``solver.STATUS_INVALID_INPUT``."""
    return base.validity_status(base.active(CONDITIONS, p), p)


def _valid(p, value):
    """``value`` (array or dict of arrays) at a valid ``p``, NaN at an invalid one (traced inputs)."""
    conditions = base.active(CONDITIONS, p)
    return jax.tree_util.tree_map(lambda v: base.nan_unless_valid(conditions, p, v), value)


def _valid_br(p, value):
    """A B-decay BR: NaN outside every condition, BR ≤ 1 included even with ``br_limit=False``."""
    return base.nan_unless_valid(CONDITIONS, p, value)


def mediator_mass(p):
    """ALP mass m_a [GeV]."""
    return p.m_a


def dm_mass(p):
    """Dark-matter mass m_χ [GeV]."""
    return p.m_chi


# -------------------------------------------------------------- ALP decays, docs/physics/resonant-alp.md §5.1
def width_to_photons(p):
    """Γ(a → γγ) = g_aγγ² m_a³/(64π) [GeV]  (docs/physics/resonant-alp.md §5.1, [D] (2.6))."""
    return p.g_agg**2 * p.m_a**3 / (64.0 * jnp.pi)


def width_to_dm(p):
    """Γ(a → χχ) = g_aχχ² m_a m_χ²/π · √(1 − 4m_χ²/m_a²) [GeV], Majorana χ
    (docs/physics/resonant-alp.md §5.1, [D] (2.7)).

    Exactly 0, with a finite gradient, for m_a ≤ 2m_χ.
    """
    return p.g_achichi**2 * p.m_a * p.m_chi**2 / jnp.pi * threshold_beta(p.m_a, p.m_chi)


def widths(p):
    """Partial widths of the ALP [GeV]: {"gamgam": Γ_aγ, "chichi": Γ_aχ}
    (docs/physics/resonant-alp.md §5.1); NaN at a point outside the model's validity (``CONDITIONS``)."""
    return _valid(p, {"gamgam": width_to_photons(p), "chichi": width_to_dm(p)})


def _total_width(p):
    return width_to_photons(p) + width_to_dm(p)


def total_width(p):
    """Γ_a = Γ_aχ θ(m_a − 2m_χ) + Γ_aγ [GeV]  (docs/physics/resonant-alp.md §5.1, [D] (A.2), (A.3));
    NaN outside the validity."""
    return _valid(p, _total_width(p))


def dm_yukawa(p):
    """Effective on-shell pseudoscalar Yukawa y_χ = 4 g_aχχ m_χ (dimensionless;
    docs/physics/resonant-alp.md §5.1).

    −g_aχχ ∂_μa χ̄γ^μγ⁵χ → 2i g_aχχ m_χ a χ̄γ⁵χ on shell; the Majorana Wick factor 2 makes the vertex
    y_χ γ⁵, and with a ½ for identical final fermions Γ(a → χχ) = y_χ² m_a β/(16π) reproduces (2.7).
    """
    return 4.0 * p.g_achichi * p.m_chi


def _branching_ratios(p):
    """(BR(a → χχ), BR(a → γγ)); a stable ALP (Γ_a = 0) counts as (0, 1): it always escapes."""
    total = _total_width(p)
    has_width = total > 0.0
    safe_total = jnp.where(has_width, total, 1.0)
    br_dm = jnp.where(has_width, width_to_dm(p) / safe_total, 0.0)
    br_photons = jnp.where(has_width, width_to_photons(p) / safe_total, 1.0)
    return br_dm, br_photons


def br_to_dm(p):
    """BR(a → χχ) = Γ_aχ/Γ_a  (docs/physics/resonant-alp.md §5.1, [D] Fig. 1)."""
    return _branching_ratios(p)[0]


def br_to_photons(p):
    """BR(a → γγ) = Γ_aγ/Γ_a  (docs/physics/resonant-alp.md §5.1, [D] Fig. 1)."""
    return _branching_ratios(p)[1]


# ----------------------------------------------------------------- B → K a, docs/physics/resonant-alp.md §5.2
def top_loop_function(x):
    """f(x) = x[1 + x(ln x − 1)]/(1 − x)² (Izaguirre–Lin–Shuve 1611.09355; docs/physics/resonant-alp.md §5.2,
    [D] (3.5)); x ≠ 1."""
    return x * (1.0 + x * (np.log(x) - 1.0)) / (1.0 - x) ** 2


def c_sb():
    """C_sb = −3m_W²/(16π²v²) V_ts* V_tb f(m_t²/m_W²)  (docs/physics/resonant-alp.md §5.2,
    [D] (3.2)); ≈ +1.010e-4.

    Real, with the standard CKM phase convention V_ts* V_tb = −|V_ts V_tb| (V_ts < 0); only |C_sb|
    enters the rates. Python float (fixed SM inputs of bkdm.constants).
    """
    x_t = (c.M_T / c.M_W) ** 2
    vts_star_vtb = -c.VTB_VTS
    return float(-3.0 * c.M_W**2 / (16.0 * np.pi**2 * c.V_HIGGS**2) * vts_star_vtb * top_loop_function(x_t))


def _check_open(p, m_meson, channel):
    """Eager request of a closed B⁺ → M a channel → ValueError naming m_a (skipped under jit)."""
    check_range("m_a", p.m_a, hi=c.M_B_PLUS - m_meson, hi_open=True, unit="GeV",
                why=f"{channel} is kinematically closed")


def br_b_to_k(p):
    """BR(B⁺ → K⁺ a) = τ_B g_aWW²|C_sb|² F²(m_a²)(m_B² − m_K²)² λ^{1/2}(m_B², m_K², m_a²)/(64π m_B³)
    (docs/physics/resonant-alp.md §5.2, [D] (3.1)).

    F = GRvDV f₀ (``form_factor="grvdv"``) or [D]'s F_K (3.3) (``"ding"``). This equals [C] (8)
    (docs/physics/alp.md §2.3) with |c^V_sb|/f_a = g_aWW|C_sb|. An eager call with m_a ≥ m_B − m_K
    raises ValueError; under jit the closed channel gives exactly 0 with a finite gradient,
    and a point outside the model's validity NaN.
    """
    _check_open(p, c.M_K_PLUS, "B⁺ → K⁺ a")
    return _valid_br(p, _br_b_to_k(p))


def _br_b_to_k(p):
    mb, mk = c.M_B_PLUS, c.M_K_PLUS
    is_open = p.m_a < mb - mk
    q2 = jnp.where(is_open, p.m_a**2, 0.0)  # safe q² for the form factor (finite gradient)
    if p.form_factor == "ding":
        ff = formfactors.ding_f_k(q2)
    else:
        ff = formfactors.bk_f_zero(q2)
    width = (p.g_aww * c_sb()) ** 2 * ff**2 * (mb**2 - mk**2) ** 2 * sqrt_kallen(mb, mk, p.m_a) / (
        64.0 * jnp.pi * mb**3)
    return jnp.where(is_open, width / c.GAMMA_B_PLUS, 0.0)


def br_b_to_kstar(p):
    """BR(B⁺ → K*⁺ a) = τ_B |c^A_sb/f_a|² A₀²(m_a²) λ^{3/2}(m_B², m_K*², m_a²)/(64π m_B³), with
    |c^A_sb|/f_a = g_aWW|C_sb|  (docs/physics/alp.md §2.3, [C] (9); [D] has no B → K* a).

    Mapping: L_eff = −g_aWW C_sb ∂_μa s̄γ^μ P_L b = ∂_μa/(2f_a) s̄γ^μ(c^V + c^A γ₅)b of [C] (3) with
    c^V/f_a = −g_aWW C_sb, c^A/f_a = +g_aWW C_sb. Inserting c^V into [C] (8) reproduces [D] (3.1)
    exactly, which fixes the normalisation. A₀ is always GRvDV 2023 (the ``form_factor`` option only
    concerns B → K). Closed channel: ValueError eagerly, exactly 0 under jit; NaN outside the model's
    validity.
    """
    _check_open(p, c.M_KSTAR_PLUS, "B⁺ → K*⁺ a")
    return _valid_br(p, _br_b_to_kstar(p))


def _br_b_to_kstar(p):
    mb, mv = c.M_B_PLUS, c.M_KSTAR_PLUS
    is_open = p.m_a < mb - mv
    q2 = jnp.where(is_open, p.m_a**2, 0.0)
    width = (p.g_aww * c_sb()) ** 2 * formfactors.bkstar_a0(q2) ** 2 * sqrt_kallen(mb, mv, p.m_a) ** 3 / (
        64.0 * jnp.pi * mb**3)
    return jnp.where(is_open, width / c.GAMMA_B_PLUS, 0.0)


def boost_in_b_decay(p):
    """βγ of the ALP in the B⁺ rest frame: |p_a|/m_a, |p_a| = λ^{1/2}(m_B², m_K², m_a²)/(2m_B)
    (``boost="exact"``; 0 when B → K a is closed) or m_B/(2m_a) (``"ding"``, [D] below (5.2))."""
    if p.boost == "ding":
        return c.M_B_PLUS / (2.0 * p.m_a)
    return two_body_momentum(c.M_B_PLUS, c.M_K_PLUS, p.m_a) / p.m_a


def decay_length(p):
    """Proper decay length cτ_a = ħc/Γ_a [m] (total width; docs/physics/resonant-alp.md §5.2);
    +inf for a stable ALP (Γ_a = 0)."""
    total = _total_width(p)
    has_width = total > 0.0
    return jnp.where(has_width, c.HBARC_GEV_M / jnp.where(has_width, total, 1.0), jnp.inf)


def lab_decay_length(p):
    """Decay length in the B⁺ rest frame L_a = βγ cτ_a [m]  (docs/physics/resonant-alp.md §5.2, [D] (5.2));
    +inf if Γ_a = 0."""
    total = _total_width(p)
    has_width = total > 0.0
    return jnp.where(has_width, boost_in_b_decay(p) * c.HBARC_GEV_M / jnp.where(has_width, total, 1.0),
                     jnp.inf)


def escape_probability(p):
    """P_a(R) = exp(−R/(βγ cτ_a)) = exp(−R Γ_a/(βγ ħc))  (docs/physics/resonant-alp.md §5.2, [D] (5.2));
    R = detector_radius.

    Total width Γ_a in cτ_a ([D] writes τ_a ≃ 1/Γ_aγ, equal when BR(a → γγ) ≃ 1). 0 when βγ = 0.
    """
    bg = boost_in_b_decay(p)
    moving = bg > 0.0
    exponent = p.detector_radius * _total_width(p) / (jnp.where(moving, bg, 1.0) * c.HBARC_GEV_M)
    return jnp.where(moving, jnp.exp(-exponent), 0.0)


def invisible_fraction(p):
    """P_inv = BR(a → χχ) + BR(a → γγ)·P_a(R)  (docs/physics/alp.md §2.5 form; [D] (5.1)–(5.3) combined).

    [D] treats the two terms as separate scenarios (displaced diphoton (5.1), missing energy (5.3));
    physically an ALP is unseen if it decays to χχ or leaves the detector before decaying to γγ.
    """
    br_dm, br_photons = _branching_ratios(p)
    return _valid(p, br_dm + br_photons * escape_probability(p))


def br_b_to_k_invisible(p):
    """BR(B⁺ → K⁺ a) × P_inv — the B⁺ → K⁺ + invisible signal (docs/physics/resonant-alp.md §5.2,
    [D] (5.1), (5.3))."""
    return br_b_to_k(p) * invisible_fraction(p)


# ------------------------------------------------------------------- rates, docs/physics/resonant-alp.md §5.3
def _sigma_v_denominator(p):
    """2π for (A.1) as printed, 8π for the normalisation consistent with (2.6), (2.7)."""
    return 2.0 * jnp.pi if p.normalisation == "as_printed" else 8.0 * jnp.pi


def sigma_v_lab(p, s, s_minus_ma2=None):
    """(σ v_lab)(χχ → a* → γγ) = g_aχχ² g_aγγ² m_χ² s³ / (N (s − 2m_χ²)[(s − m_a²)² + m_a²Γ_a²]) [GeV⁻²]
    (docs/physics/resonant-alp.md §5.3, [D] (A.1)); s [GeV²].

    N = 2π as printed, 8π consistent (docs/physics/conventions.md §8.6); Γ_a = total width (A.2), (A.3);
    v_lab = √(s(s − 4m_χ²))/(s − 2m_χ²). Exactly 0 below threshold, s < 4m_χ². ``s_minus_ma2``:
    s − m_a² computed without cancellation by the caller (thermal averages of a 1e-12-narrow peak).
    """
    s = jnp.asarray(s, dtype=jnp.float64)
    m2 = p.m_chi**2
    above = s >= 4.0 * m2
    s_safe = jnp.where(above, s, 4.0 * m2)
    offset = s_safe - p.m_a**2 if s_minus_ma2 is None else s_minus_ma2
    breit_wigner = offset**2 + (p.m_a * _total_width(p)) ** 2
    value = (p.g_achichi * p.g_agg) ** 2 * m2 * s_safe**3 / (
        _sigma_v_denominator(p) * (s_safe - 2.0 * m2) * breit_wigner)
    return jnp.where(above, value, 0.0)


_SERIES_SWITCH = 1.0  # Q/M below which the series is used (w ≤ ½)
_SERIES_TERMS = 96  # w ≤ ½: the last term is ≲ 1e-22 of the first
_SERIES_COEFFS = np.array([(n + 1.0) * (n + 2.0) * (n + 3.0) / (6.0 * (n + 5.0))
                           for n in range(_SERIES_TERMS)])  # C(n+3, 3)/(n+5)


def scattering_t_integral(q, m2):
    """I(Q) = ∫₀^Q du u⁴/(u + M)² = Q³/3 − MQ² + 3M²Q − 4M³ ln(1 + Q/M) + M³Q/(Q + M) [GeV¹⁰]
    (docs/physics/resonant-alp.md §5.3, [D] (A.4) bracket); Q, M = m_a² [GeV²].

    The closed form cancels catastrophically for Q ≪ M (I ≃ Q⁵/(5M²)). For Q ≤ M use instead the
    positive-term series in w = Q/(Q + M) ≤ ½ (substitution u = Mw'/(1 − w')):
    I = M³ ∫₀^w dw' w'⁴/(1 − w')⁴ = M³ Σ_n C(n+3, 3) w^{n+5}/(n + 5). Both branches see safe arguments.
    """
    q = jnp.asarray(q, dtype=jnp.float64)
    x = q / m2
    small = x <= _SERIES_SWITCH
    x_series = jnp.where(small, x, 0.0)
    w = x_series / (1.0 + x_series)
    from_series = m2**3 * w**5 * jnp.polyval(jnp.asarray(_SERIES_COEFFS[::-1]), w)
    x_exact = jnp.where(small, 2.0, x)
    exact = m2**3 * (x_exact**3 / 3.0 - x_exact**2 + 3.0 * x_exact - 4.0 * jnp.log1p(x_exact)
                     + x_exact / (1.0 + x_exact))
    return jnp.where(small, from_series, exact)


def elastic_momentum_transfer(p, omega):
    """∫_{−Q}^0 dt (−t) Σ|M(χγ → χγ)|² = κ g_aχχ² g_aγγ² m_χ² I(Q) [GeV⁸]
    (docs/physics/resonant-alp.md §5.3, [D] (A.4)).

    ω = photon energy in the χ rest frame [GeV]; Q = 4k_cm² = 4m_χω²/(m_χ + 2ω); M = m_a²;
    κ = 8 as printed, 16 consistent (Σ|M|² = y_χ² g_aγγ² (−t)³/(t − m_a²)², y_χ = 4g_aχχ m_χ,
    summed over all spins and polarisations). Only the photon is included: χa → χa (A.5) is dropped
    (garbled as printed and suppressed by e^{−m_a/T}; docs/physics/resonant-alp.md §5.3).
    """
    omega = jnp.asarray(omega, dtype=jnp.float64)
    kappa = 8.0 if p.normalisation == "as_printed" else 16.0
    q = 4.0 * p.m_chi * omega**2 / (p.m_chi + 2.0 * omega)
    return kappa * (p.g_achichi * p.g_agg * p.m_chi) ** 2 * scattering_t_integral(q, p.m_a**2)


# ------------------------------------------------------ relic density (docs/physics/resonant-alp.md §5.4–5.6)
X_FINAL = 1.0e4  # evolution end point x = m_χ/T of [D] (docs/physics/resonant-alp.md §5.6: "x ~ 10³–10⁴")


def _sigma_v_lab_eps(p, eps, eps_minus_eps_r):
    """σv_lab at s = 4m_χ²(1+ε) with s − m_a² = 4m_χ²(ε − ε_R) given without cancellation."""
    four_m2 = 4.0 * p.m_chi**2
    return sigma_v_lab(p, four_m2 * (1.0 + eps), four_m2 * eps_minus_eps_r)


def thermal_sigma_v(T, p):
    """Gondolo–Gelmini ⟨σv⟩(T) [GeV⁻²] of χχ → a* → γγ, resonance-aware (docs/physics/resonant-alp.md §5.5,
    [D] (4.12))."""
    return averages.sigma_v_gg(lambda e, de: _sigma_v_lab_eps(p, e, de), p.m_chi, T,
                               resonance=(p.m_a, _total_width(p)))


def thermal_sigma_v_2(T, p):
    """⟨σv⟩₂(T) [GeV⁻²], the p²/(3E) moment of the annihilation term (docs/physics/resonant-alp.md §5.5,
    [D] (4.13) corrected)."""
    return averages.sigma_v_2(lambda e, de: _sigma_v_lab_eps(p, e, de), p.m_chi, T,
                              resonance=(p.m_a, _total_width(p)))


def momentum_transfer_rate(T, p):
    """γ(T) [GeV] from χγ → χγ (docs/physics/resonant-alp.md §5.4, [D] (4.5), (A.4)); photons, g_χ = 2.

    Always the full integral. The low-temperature form γ ≃ 4.998e5 (κ/16) g_aχχ²g_aγγ² T¹⁰/(m_χ m_a⁴)
    (docs/physics/resonant-alp.md §5.4) is an expansion in ~110/x, x = m_χ/T (first correction
    −110ζ(11)/(ζ(10)x)): it overestimates γ 33× at x = 20, 14× at x = 30, by 11 % at x = 10³, and
    holds to 1 % only from x ≈ 10⁴ — use it, and γ ∝ T¹⁰, only that deep (d ln γ/d ln T = 7.5 at x = 20).
    """
    return averages.momentum_transfer_rate(lambda w: elastic_momentum_transfer(p, w), p.m_chi, 2.0, T,
                                           m_bath=0.0, statistics="boson")


# a valid point solved in place of an invalid one (its result is discarded, base.safe_params):
# the benchmark of `bkdm relic --model resonant-alp` (r = 0.477, c_B = c_W)
_SAFE_POINT = Params(m_a=2.0, m_chi=0.954, g_agg=1e-4, g_aww=1e-4, g_achichi=3.7e-5)


def relic(p, method="cbe", settings=solver.DEFAULT, x_final=X_FINAL, elastic="nr", history=0):
    """Relic abundance of χ (Majorana, g = 2) by resonant freeze-out through the ALP
    (docs/physics/resonant-alp.md §5.4–5.6).

    ``method="cbe"``: coupled (Y, y) system with early kinetic decoupling ([D] (4.8)–(4.9));
    ``"nbe"``: the standard number-density equation (kinetic equilibrium assumed). Both evolve to
    ``x_final`` (default 10⁴; ``None`` with "nbe" continues to x → ∞ with the exact tail). Returns
    the result object of :mod:`bkdm.cosmo.kinetic_decoupling` or :mod:`bkdm.cosmo.freeze_out`; NaN with
    ``status = solver.STATUS_INVALID_INPUT`` at a point outside the model's validity (traced input).
    """
    if method not in ("cbe", "nbe"):
        raise ValueError(f"method = {method!r} is not allowed: choose 'cbe' or 'nbe'")
    status = validity_status(p)
    p = base.safe_params(p, status == 0, _SAFE_POINT)
    if method == "cbe":
        result = kinetic_decoupling.solve(thermal_sigma_v, thermal_sigma_v_2, momentum_transfer_rate, p,
                                          p.m_chi, 2.0, settings, x_final=x_final, elastic=elastic,
                                          history=history)
    else:
        result = freeze_out.solve(thermal_sigma_v, p, p.m_chi, 2.0, settings, history=history,
                                  x_final=x_final)
    return solver.with_input_status(result, status)


def _scaled_sigma_v(T, args):
    return args[1] * thermal_sigma_v(T, args[0])


def _scaled_sigma_v_2(T, args):
    return args[1] * thermal_sigma_v_2(T, args[0])


def _scaled_gamma(T, args):
    return args[2] * momentum_transfer_rate(T, args[0]) + args[3] * thermo.hubble_tilde(T)


def relic_with_rate_factors(p, annihilation_factor=1.0, gamma_factor=1.0, hubble_factor=0.0,
                            settings=solver.DEFAULT, x_final=X_FINAL, history=0):
    """cBE relic ([D] (4.8)–(4.9)) with the rates of ``p`` rescaled by *traced* factors, so that one
    compiled (vmapped) solve serves every variant of a scan:

        ⟨σv⟩, ⟨σv⟩₂ → a·⟨σv⟩, a·⟨σv⟩₂,    γ(T) → b·γ(T) + c·H̃(T)     (a, b, c ≥ 0, dimensionless)

    (a, b) = (4, ½) turns ``normalisation="consistent"`` into ``"as_printed"``
    (docs/physics/conventions.md §8.6: the printed (A.1) is 4× the consistent σv, the printed (A.4)
    ½× the consistent γ); (b, c) = (0, 10¹⁰) keeps T_χ = T at every x, i.e. the NBE evaluated to ``x_final``
    (a finite γ × 10²⁰ is *not* an NBE where annihilation never freezes, e.g. r = ½,
    because γ/H falls steeply: ∝ T^5.5 at x = 20, T⁸ only from x ~ 10⁴ on; by 7e19 from x = 20 to 10⁴
    at r = 0.477)."""
    status = validity_status(p)
    p = base.safe_params(p, status == 0, _SAFE_POINT)
    args = (p, annihilation_factor, gamma_factor, hubble_factor)
    result = kinetic_decoupling.solve(_scaled_sigma_v, _scaled_sigma_v_2, _scaled_gamma, args, p.m_chi, 2.0,
                                      settings, x_final=x_final, history=history)
    return solver.with_input_status(result, status)


def omega_h2(p, method="cbe", settings=solver.DEFAULT, x_final=X_FINAL):
    """Relic density Ω_χ h² (docs/physics/resonant-alp.md §5.6). Raises SolverError eagerly if the
    solve fails."""
    r = relic(p, method, settings, x_final)
    return solver.checked(r.omega_h2, r.status, f"resonant-ALP relic ({method})")


# ------------------------------------------------------------------------------ summary
def summary(p):
    """Named floats for ``bkdm info`` (scalar parameters): masses [GeV], widths [GeV], BRs, cτ and
    decay length [m], escape probability, B⁺ → K⁺(*) a BRs (omitted when the channel is closed)."""
    def f(x):
        return float(np.asarray(x))

    out = {
        "m_a [GeV]": f(p.m_a),
        "m_chi [GeV]": f(p.m_chi),
        "r = m_chi/m_a": f(p.m_chi / p.m_a),
        "Gamma(a->gamma gamma) [GeV]": f(width_to_photons(p)),
        "Gamma(a->chi chi) [GeV]": f(width_to_dm(p)),
        "Gamma_a [GeV]": f(_total_width(p)),
        "BR(a->chi chi)": f(br_to_dm(p)),
        "BR(a->gamma gamma)": f(br_to_photons(p)),
        "y_chi": f(dm_yukawa(p)),
        "|C_sb|": abs(c_sb()),
    }
    out["c tau_a [m]"] = f(decay_length(p))
    if f(p.m_a) < c.M_B_PLUS - c.M_K_PLUS:
        out["beta gamma"] = f(boost_in_b_decay(p))
        out["lab decay length [m]"] = f(lab_decay_length(p))
        out["P_escape(R)"] = f(escape_probability(p))
        out["invisible fraction"] = f(invisible_fraction(p))
        out["BR(B+->K+ a)"] = f(br_b_to_k(p))
        out["BR(B+->K+ inv)"] = f(br_b_to_k_invisible(p))
    if f(p.m_a) < c.M_B_PLUS - c.M_KSTAR_PLUS:
        out["BR(B+->K*+ a)"] = f(br_b_to_kstar(p))
    return out


__all__ = [
    "NAME", "SOURCE", "PARAMETERS", "CONDITIONS", "Params", "BENCHMARK", "DM_DOF", "ALIASES", "OPTIONS",
    "RELIC_METHODS", "SYMBOLS", "validity_status", "mediator_mass", "dm_mass", "width_to_photons",
    "width_to_dm", "widths", "total_width", "dm_yukawa", "br_to_dm", "br_to_photons",
    "top_loop_function", "c_sb", "br_b_to_k", "br_b_to_kstar", "boost_in_b_decay", "decay_length",
    "lab_decay_length", "escape_probability", "invisible_fraction", "br_b_to_k_invisible", "sigma_v_lab",
    "scattering_t_integral", "elastic_momentum_transfer", "thermal_sigma_v", "thermal_sigma_v_2",
    "momentum_transfer_rate", "relic", "relic_with_rate_factors", "omega_h2", "summary",
]
