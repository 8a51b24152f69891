"""ALP portal to fermionic dark matter — Calibbi, Li, Mukherjee, Schmidt, arXiv:2502.04900 [C], Sec. II.

An axion-like particle a (mass m_a, decay constant f_a) with derivative couplings to quarks, leptons,
gluons, photons and a Dirac dark-matter fermion χ (docs/physics/alp.md §2.1, [C] (3), (4), (7)):

    L = ∂_μa/(2f_a) Σ f̄_i γ^μ (c^V_ij + c^A_ij γ₅) f_j + c_GG α_s/(4π) a/f_a G G̃ + c_γγ α/(4π) a/f_a F F̃
        + ∂_μa/(2f_a) c_χ χ̄ γ^μ γ₅ χ.

The flavour-violating c_sb produces the ALP in B⁺ → K⁺ a (vector part) and B⁺ → K*⁺ a (axial part);
the ALP is invisible at Belle II if it decays to χχ̄ or escapes the detector before decaying to SM
particles ([C] (11)). Units: GeV (ħ = c = 1) everywhere, except decay lengths and the detector
length in metres.

Model choices (docs/physics/conventions.md §8.11): quark masses in the widths and loop
functions are the MS-bar values of ``bkdm.constants`` (m_u,d,s at 2 GeV, m_c(m_c), m_b(m_b)); α_s(m_a)
from ``bkdm.qcd`` (four-loop running, frozen below 1 GeV); α = α(0) in a → γγ. The partonic widths
of [C] hold above 2.5 GeV; below, :func:`widths` uses the hadronic decays of
:mod:`bkdm.models.alp_hadronic` (chiral perturbation theory + VMD), joined smoothly between 1.5 and 2.5 GeV
(docs/physics/alp-hadronic.md §2.8).

Every function is pure JAX (jit/grad/vmap-safe; vmap over a ``Params`` whose fields are arrays).
Kinematically closed channels give exactly 0 with finite gradients.
"""

import functools

import jax
import jax.numpy as jnp

from bkdm import constants as c
from bkdm._validation import check_choice, check_nonnegative, check_positive, check_range
from bkdm.cosmo import averages, freeze_in, solver, thermo
from bkdm.formfactors import bk_f_zero, bkstar_a0
from bkdm.kinematics import safe_sqrt, sqrt_kallen, threshold_beta, two_body_momentum
from bkdm.models import alp_hadronic, base
from bkdm.models.base import Condition, ModelParams, ParameterInfo, param
from bkdm.qcd import alpha_s, n_light_quarks

NAME = "alp"
SOURCE = ("L. Calibbi, T. Li, L. Mukherjee, M. A. Schmidt, 'Is Dark Matter the origin of the B → Kνν̄ "
          "excess at Belle II?', arXiv:2502.04900, Sec. II (ALP portal)")

_QUARK_MASS = dict(zip(c.QUARKS, c.QUARK_MASSES, strict=True))
_QUARK_CHARGE = dict(zip(c.QUARKS, c.QUARK_CHARGES, strict=True))
_LEPTON_MASS = dict(zip(c.LEPTONS, c.LEPTON_MASSES, strict=True))
_DECAY_QUARKS = ("u", "d", "s", "c", "b")  # a → tt̄ needs m_a > 345 GeV, far outside B → K a
M_B_MINUS_M_K = c.M_B_PLUS - c.M_K_PLUS  # B⁺ → K⁺ a is open for m_a below this [GeV]
M_B_MINUS_M_KSTAR = c.M_B_PLUS - c.M_KSTAR_PLUS  # B⁺ → K*⁺ a [GeV]


class Params(ModelParams):
    """ALP-portal parameters (docs/physics/alp.md §2.1). Masses and f_a in GeV, detector_length in metres.

    c_qq, c_ll are the flavour-diagonal axial couplings c^A_ff (signed); c_sb_v, c_sb_a are
    |c^V_sb|, |c^A_sb|; c_gg, c_gamgam the UV gauge couplings c_GG, c_γγ of [C] (4).
    """

    m_a: float = param()
    f_a: float = param()
    m_chi: float = param()
    c_chi: float = param(0.0)
    c_sb_v: float = param(0.0)
    c_sb_a: float = param(0.0)
    c_uu: float = param(0.0)
    c_dd: float = param(0.0)
    c_ss: float = param(0.0)
    c_cc: float = param(0.0)
    c_bb: float = param(0.0)
    c_tt: float = param(0.0)
    c_ee: float = param(0.0)
    c_mumu: float = param(0.0)
    c_tautau: float = param(0.0)
    c_gg: float = param(0.0)
    c_gamgam: float = param(0.0)
    detector_length: float = param(c.DETECTOR_LENGTH_C)

    @classmethod
    def universal(cls, m_a, f_a, c_q, c_sb_v, c_chi, m_chi, c_sb_a=0.0,
                  detector_length=c.DETECTOR_LENGTH_C, **others):
        """[C]'s benchmark family: one coupling c_q for all six quarks
        (docs/physics/alp.md §2.1), leptons and UV gauge couplings zero unless given in ``others``."""
        quarks = {f"c_{q}{q}": c_q for q in c.QUARKS}
        return cls(m_a=m_a, f_a=f_a, m_chi=m_chi, c_chi=c_chi, c_sb_v=c_sb_v, c_sb_a=c_sb_a,
                   detector_length=detector_length, **{**quarks, **others})

    def validate(self):
        base.check_conditions(CONDITIONS, self)


def _coupling(description, lower=None, log_scale=False):
    """Dimensionless coupling; ``lower`` is a closed bound (0 allowed)."""
    return ParameterInfo("", description, lower=lower, lower_open=False, log_scale=log_scale)


PARAMETERS = {
    "m_a": ParameterInfo("GeV", "ALP mass", lower=0.0),
    "f_a": ParameterInfo("GeV", "ALP decay constant", lower=0.0, log_scale=True),
    "m_chi": ParameterInfo("GeV", "Dirac dark-matter mass (must be < m_a/2)", lower=0.0, log_scale=True),
    "c_chi": _coupling("ALP–DM axial coupling c_χ, [C] (7)", lower=0.0, log_scale=True),
    "c_sb_v": _coupling("|c^V_sb|: produces B → K a, [C] (8)", lower=0.0, log_scale=True),
    "c_sb_a": _coupling("|c^A_sb|: produces B → K* a, [C] (9)", lower=0.0),
    **{f"c_{q}{q}": _coupling(f"axial ALP coupling to the {q} quark (signed), [C] (3)") for q in c.QUARKS},
    **{f"c_{lep}{lep}": _coupling(f"axial ALP coupling to the {lep} lepton (signed), [C] (3)")
       for lep in c.LEPTONS},
    "c_gg": _coupling("UV ALP–gluon coupling c_GG, [C] (4)"),
    "c_gamgam": _coupling("UV ALP–photon coupling c_γγ, [C] (4)"),
    "detector_length": ParameterInfo("m", "Belle II detector size L_det in [C] (11) (value stripped; "
                                     "3 m assumed, docs/physics/alp.md §2.5)", lower=0.0),
}


# fit-level aliases (bkdm.inference.fitspec): c_q sets all six quark couplings ([C]'s benchmark)
ALIASES = {"c_q": lambda value, values: {f"c_{q}{q}": value for q in c.QUARKS}}
OPTIONS = ()
# the illustrative point of docs/physics/alp.md §2.7, reproducing [C]'s benchmark statements (m_χ = 1 MeV):
# default of `bkdm info`/`bkdm relic` and bkdm.benchmark("alp")
BENCHMARK = {"m_a": 2.1, "f_a": 1.5e8, "m_chi": 1e-3, "c_q": 1.0, "c_sb_v": 1.0, "c_sb_a": 0.0, "c_chi": 1.0}
DM_DOF = 4.0  # Dirac χ: χ and χ̄, two spin states each
SYMBOLS = {"m_a": "m_a", "f_a": "f_a", "m_chi": r"m_\chi", "c_chi": r"c_\chi", "c_sb_v": r"c_{sb}^V",
           "c_sb_a": r"c_{sb}^A", "c_q": "c_q", **{f"c_{q}{q}": f"c_{{{q}{q}}}" for q in c.QUARKS},
           **{f"c_{lep}{lep}": rf"c_{{\{lep}\{lep}}}" if lep in ("mu", "tau") else f"c_{{{lep}{lep}}}"
              for lep in c.LEPTONS},
           "c_gg": "c_{GG}", "c_gamgam": r"c_{\gamma\gamma}", "detector_length": r"L_\mathrm{det}"}


def _coupling_over_f_a(p, name):
    return getattr(p, name) / p.f_a


def _br_detail(p):
    """Eager text for a BR > 1 error: the BRs, the couplings over f_a and the largest allowed."""
    br_k, br_ks = float(_br_b_to_k(p, None)), float(_br_b_to_kstar(p, None))
    out = f"BR(B⁺ → K⁺a) = {br_k:.3g}, BR(B⁺ → K*⁺a) = {br_ks:.3g} at m_a = {float(p.m_a):.4g} GeV"
    for name, br in (("c_sb_v", br_k), ("c_sb_a", br_ks)):
        if br > 0:  # BR ∝ (c/f_a)²
            ratio = float(_coupling_over_f_a(p, name))
            out += f"; {name}/f_a = {ratio:.3g} GeV⁻¹ (BR ≤ 1 alone needs ≤ {ratio / br**0.5:.3g} GeV⁻¹)"
    return out


_WHY_BR = "a rate above the B⁺ width is outside the model's validity"
# Validity conditions (bkdm.models.base, "Validity"): checked eagerly by Params, NaN/status under jit.
CONDITIONS = (
    base.positive("m_a", "GeV"),
    base.positive("f_a", "GeV"),
    Condition("m_chi", "0 < m_chi < m_a/2", lambda p: jnp.isfinite(p.m_chi) & (p.m_chi > 0.0)
              & (p.m_chi < 0.5 * p.m_a), "GeV", involves=("m_chi", "m_a"),
              why="the ALP must be able to decay to dark matter, a → χχ̄ needs m_chi < m_a/2"),
    base.positive("detector_length", "m"),
    *(base.nonnegative(name) for name in ("c_sb_v", "c_sb_a", "c_chi")),
    *(base.finite(name) for name in ("c_uu", "c_dd", "c_ss", "c_cc", "c_bb", "c_tt", "c_ee", "c_mumu",
                                     "c_tautau", "c_gg", "c_gamgam")),
    Condition("c_sb_v", "BR(B⁺ → K⁺a) ≤ 1", lambda p: _br_b_to_k(p, None) <= 1.0, why=_WHY_BR,
              involves=("c_sb_v", "f_a", "m_a"), detail=_br_detail),
    Condition("c_sb_a", "BR(B⁺ → K⁺a) + BR(B⁺ → K*⁺a) ≤ 1",
              lambda p: _br_b_to_k(p, None) + _br_b_to_kstar(p, None) <= 1.0, why=_WHY_BR,
              involves=("c_sb_a", "c_sb_v", "f_a", "m_a"), detail=_br_detail),
)


def validity_status(p):
    """0 where ``p`` satisfies every condition of ``CONDITIONS``, else ``solver.STATUS_INVALID_INPUT``."""
    return base.validity_status(CONDITIONS, p)


def _valid(p, value):
    """``value`` (array or dict of arrays) at a valid ``p``, NaN at an invalid one (traced inputs)."""
    return jax.tree_util.tree_map(lambda v: base.nan_unless_valid(CONDITIONS, p, v), value)


def mediator_mass(p):
    """ALP mass m_a [GeV]."""
    return p.m_a


def dm_mass(p):
    """Dark-matter mass m_χ [GeV]."""
    return p.m_chi


# ------------------------------------------------------------------ loop function, effective couplings
def loop_function_b1(tau):
    """B₁(τ) = 1 − τ f²(τ) (docs/physics/alp.md §2.2, [C] (6)), complex; τ = 4m_f²/m_a².

    f = arcsin(1/√τ) = arctan(1/√(τ−1)) for τ ≥ 1, f = π/2 + (i/2) ln[(1+√(1−τ))/(1−√(1−τ))] for τ < 1,
    with ln[(1+r)/(1−r)] = 2 ln(1+r) − ln τ (no cancellation for τ → 0). B₁(0) = 1. At the branch
    point τ = 1 the value is 1 − π²/4; the true derivative is infinite there, the returned one is the
    finite derivative of the smooth part (the √|τ−1| pieces have zero gradient at τ = 1).
    """
    tau = jnp.asarray(tau, dtype=jnp.float64)
    f_above = jnp.arctan2(1.0, safe_sqrt(tau - 1.0))
    r = safe_sqrt(1.0 - tau)
    tau_pos = jnp.where(tau > 0.0, tau, 1.0)
    f_below = 0.5 * jnp.pi + 0.5j * (2.0 * jnp.log1p(r) - jnp.log(tau_pos))
    f = jnp.where(tau >= 1.0, f_above + 0.0j, f_below)
    return jnp.where(tau > 0.0, 1.0 - tau * f * f, 1.0 + 0.0j)


def _b1(m_f, m_a):
    return loop_function_b1(4.0 * m_f**2 / m_a**2)


def c_eff_photon(p):
    """c_γγ^eff = c_γγ + Σ_f N_c Q_f² c_ff B₁(4m_f²/m_a²) over quarks and leptons (complex;
    docs/physics/alp.md §2.2, [C] (5))."""
    quarks = sum(c.N_COLOURS * _QUARK_CHARGE[q] ** 2 * getattr(p, f"c_{q}{q}") * _b1(_QUARK_MASS[q], p.m_a)
                 for q in c.QUARKS)
    leptons = sum(getattr(p, f"c_{lep}{lep}") * _b1(_LEPTON_MASS[lep], p.m_a) for lep in c.LEPTONS)
    return p.c_gamgam + quarks + leptons


def c_eff_gluon(p):
    """c_GG^eff = c_GG + ½ Σ_q c_qq B₁(4m_q²/m_a²) (complex; docs/physics/alp.md §2.2, [C] (5))."""
    return p.c_gg + 0.5 * sum(getattr(p, f"c_{q}{q}") * _b1(_QUARK_MASS[q], p.m_a) for q in c.QUARKS)


def _abs2(z):
    """|z|² = Re² + Im² (jnp.abs has a 0/0 derivative at z = 0, e.g. c_eff = 0 at c_q = 0)."""
    return jnp.real(z) ** 2 + jnp.imag(z) ** 2


# ------------------------------------------------------------------ ALP decay widths
def width_to_dm(p):
    """Γ(a → χχ̄) = m_a m_χ² c_χ² /(8π f_a²) √(1 − 4m_χ²/m_a²) [GeV], Dirac χ
    (docs/physics/alp.md §2.6, [C] (12))."""
    return p.m_a * p.m_chi**2 * p.c_chi**2 / (8.0 * jnp.pi * p.f_a**2) * threshold_beta(p.m_a, p.m_chi)


def _width_to_fermions(p, n_c, m_f, c_ff):
    # docs/physics/alp.md §2.6, [C] (13): N_c m_a m_f² c_ff² /(8π f_a²) β_f; β_f = 0 (finite
    # gradient) when closed
    return n_c * p.m_a * m_f**2 * c_ff**2 / (8.0 * jnp.pi * p.f_a**2) * threshold_beta(p.m_a, m_f)


def width_to_quark_pair(p, flavour):
    """Γ(a → qq̄) = 3 m_a m_q² c_qq² /(8π f_a²) √(1 − 4m_q²/m_a²) [GeV] (docs/physics/alp.md §2.6, [C] (13)).

    ``flavour`` ∈ u, d, s, c, b, t; MS-bar masses (module docstring); exactly 0 for m_a ≤ 2m_q.
    """
    check_choice("flavour", flavour, c.QUARKS)
    return _width_to_fermions(p, c.N_COLOURS, _QUARK_MASS[flavour], getattr(p, f"c_{flavour}{flavour}"))


def width_to_lepton_pair(p, flavour):
    """Γ(a → ℓ⁺ℓ⁻) = m_a m_ℓ² c_ℓℓ² /(8π f_a²) √(1 − 4m_ℓ²/m_a²) [GeV] (docs/physics/alp.md §2.6,
    [C] (13), N_c = 1).

    ``flavour`` ∈ e, mu, tau; exactly 0 below threshold.
    """
    check_choice("flavour", flavour, c.LEPTONS)
    return _width_to_fermions(p, 1.0, _LEPTON_MASS[flavour], getattr(p, f"c_{flavour}{flavour}"))


def width_to_gluons(p):
    """Γ(a → gg) = α_s²(m_a) m_a³/(8π³ f_a²) [1 + (97/4 − 7n_q/6) α_s/π] |c_GG^eff|² [GeV]
    (docs/physics/alp.md §2.6, [C] (14), NLO).

    n_q = number of quarks with 2m_q < m_a (MS-bar masses): a step function of m_a, so the NLO
    factor jumps by −(7/6)α_s/π at m_a = 2m_s = 0.187 GeV, 2m_c = 2.546 GeV and 2m_b = 8.366 GeV
    (the gradient does not see the steps).
    """
    a_s = alpha_s(p.m_a)
    n_q = n_light_quarks(p.m_a).astype(jnp.float64)
    nlo = 1.0 + (97.0 / 4.0 - 7.0 * n_q / 6.0) * a_s / jnp.pi
    return a_s**2 * p.m_a**3 / (8.0 * jnp.pi**3 * p.f_a**2) * nlo * _abs2(c_eff_gluon(p))


def width_to_photons(p):
    """Γ(a → γγ) = α² m_a³ |c_γγ^eff|² /((4π)³ f_a²) [GeV], α = α(0) (docs/physics/alp.md §2.6, [C] (15))."""
    return c.ALPHA_EM_0**2 * p.m_a**3 / ((4.0 * jnp.pi) ** 3 * p.f_a**2) * _abs2(c_eff_photon(p))


def _hadronic_couplings(p):
    """(m_a, f_a, (c_uu, c_dd, c_ss), c_G^had) for :mod:`bkdm.models.alp_hadronic`; c_G^had = c_GG +
    ½ Σ_{c,b,t} c_QQ B₁(4m_Q²/m_a²): the heavy quarks integrated out (docs/physics/alp-hadronic.md §2.8.1)."""
    light = jnp.stack(jnp.broadcast_arrays(p.c_uu, p.c_dd, p.c_ss), axis=-1)
    glue = p.c_gg + 0.5 * sum(getattr(p, f"c_{q}{q}") * _b1(_QUARK_MASS[q], p.m_a) for q in ("c", "b", "t"))
    return p.m_a, p.f_a, light, glue


def widths(p):
    """Partial widths of the ALP [GeV] (docs/physics/alp-hadronic.md §2.8.5): chichi, the partonic uu, dd,
    ss, gg weighted by S(m_a), cc, bb, gamgam (u, d, s loops → hadronic coupling with weight 1 − S), ee,
    mumu, tautau, and the exclusive hadronic channels of :data:`bkdm.models.alp_hadronic.CHANNELS`
    weighted by 1 − S. S = 0 below 1.5 GeV, 1 above 2.5 GeV, C² between
    (:func:`bkdm.models.alp_hadronic.partonic_weight`). The unweighted partonic formulas (13)–(15) of
    [C] are :func:`width_to_quark_pair`, :func:`width_to_gluons`, :func:`width_to_photons`. NaN at a
    point outside the model's validity (``CONDITIONS``)."""
    s = alp_hadronic.partonic_weight(p.m_a)
    couplings = _hadronic_couplings(p)
    hadronic = alp_hadronic.exclusive_widths(*couplings)
    out = {"chichi": width_to_dm(p)}
    out.update({q + q: width_to_quark_pair(p, q) * (s if q in "uds" else 1.0) for q in _DECAY_QUARKS})
    out["gg"] = s * width_to_gluons(p)
    # a → γγ: the u, d, s loops of (5) are replaced by the hadronic coupling with weight 1 − S
    light = sum(c.N_COLOURS * _QUARK_CHARGE[q] ** 2 * getattr(p, f"c_{q}{q}") * _b1(_QUARK_MASS[q], p.m_a)
                for q in "uds")
    c_eff = c_eff_photon(p) - (1.0 - s) * (light - alp_hadronic.photon_coupling(*couplings))
    out["gamgam"] = c.ALPHA_EM_0**2 * p.m_a**3 / ((4.0 * jnp.pi) ** 3 * p.f_a**2) * _abs2(c_eff)
    out.update({lep + lep: width_to_lepton_pair(p, lep) for lep in c.LEPTONS})
    out.update({k: (1.0 - s) * v for k, v in hadronic.items()})
    return _valid(p, out)


def total_width(p):
    """Γ_a^tot = sum of :func:`widths` [GeV] (docs/physics/alp.md §2.5): partonic and hadronic channels
    joined by S(m_a)."""
    return sum(widths(p).values())


def _positive_or_one(x):
    return jnp.where(x > 0.0, x, 1.0)


def br_to_dm(p):
    """BR(a → χχ̄) = Γ(χχ̄)/Γ_tot (0 for an ALP with no open channel)."""
    g_tot = total_width(p)
    return jnp.where(g_tot > 0.0, width_to_dm(p) / _positive_or_one(g_tot), 0.0)


def decay_length(p):
    """Proper decay length cτ_a = ħc/Γ_tot [m] (docs/physics/alp.md §2.5); +inf if no channel is open."""
    g_tot = total_width(p)
    return jnp.where(g_tot > 0.0, c.HBARC_GEV_M / _positive_or_one(g_tot), jnp.inf)


def boost_in_b_decay(p):
    """βγ = |p_a|/m_a of the ALP in the B⁺ rest frame, |p_a| = λ^{1/2}(m_B², m_K², m_a²)/(2m_B)
    (docs/physics/alp.md §2.5; the B boost at Belle II is neglected, as in [C]). 0 when B⁺ → K⁺a is closed."""
    return two_body_momentum(c.M_B_PLUS, c.M_K_PLUS, p.m_a) / p.m_a


# ------------------------------------------------------------------ B → K a, B → K* a
def _check_open(p, threshold, decay):
    check_range("m_a", p.m_a, hi=threshold, unit="GeV", hi_open=True,
                why=f"{decay} is kinematically closed above this mass")


def _br_b_to_k(p, ff_alpha):
    # docs/physics/alp.md §2.3, [C] (8); Γ/Γ_B with Γ_B = ħ/τ_B+; q² clipped to 0 when closed
    # (safe form factor)
    is_open = p.m_a < M_B_MINUS_M_K
    f0 = bk_f_zero(jnp.where(is_open, p.m_a**2, 0.0), ff_alpha)
    mb = c.M_B_PLUS
    lam_half = sqrt_kallen(mb, c.M_K_PLUS, p.m_a) / mb**2  # λ^{1/2}(1, m_K²/m_B², m_a²/m_B²)
    gamma = (p.c_sb_v**2 / (64.0 * jnp.pi * p.f_a**2) * mb**3 * (1.0 - c.M_K_PLUS**2 / mb**2) ** 2
             * f0**2 * lam_half)
    return jnp.where(is_open, gamma / c.GAMMA_B_PLUS, 0.0)


def _br_b_to_kstar(p, ff_alpha):
    # docs/physics/alp.md §2.3, [C] (9)
    is_open = p.m_a < M_B_MINUS_M_KSTAR
    a0 = bkstar_a0(jnp.where(is_open, p.m_a**2, 0.0), ff_alpha)
    mb = c.M_B_PLUS
    lam_half = sqrt_kallen(mb, c.M_KSTAR_PLUS, p.m_a) / mb**2
    gamma = p.c_sb_a**2 / (64.0 * jnp.pi * p.f_a**2) * mb**3 * a0**2 * lam_half**3
    return jnp.where(is_open, gamma / c.GAMMA_B_PLUS, 0.0)


def br_b_to_k(p, ff_alpha=None):
    """BR(B⁺ → K⁺a) = τ_B/ħ · |c^V_sb|²/(64π f_a²) m_B³ (1 − m_K²/m_B²)² f₀²(m_a²) λ^{1/2}(1, m_K²/m_B²,
    m_a²/m_B²) (docs/physics/alp.md §2.3, [C] (8)); GRvDV 2023 f₀ (``ff_alpha``:
    optional B→K coefficient vector of ``bkdm.formfactors``), PDG m_B⁺, m_K⁺, τ_B⁺.

    Eagerly, m_a ≥ m_B − m_K raises ValueError; under jit the closed channel gives exactly 0 and a
    point outside the model's validity NaN.
    """
    _check_open(p, M_B_MINUS_M_K, "B⁺ → K⁺ a")
    return _valid(p, _br_b_to_k(p, ff_alpha))


def br_b_to_kstar(p, ff_alpha=None):
    """BR(B⁺ → K*⁺a) = τ_B/ħ · |c^A_sb|²/(64π f_a²) m_B³ A₀²(m_a²) λ^{3/2}(1, m_K*²/m_B², m_a²/m_B²)
    (docs/physics/alp.md §2.3, [C] (9)); GRvDV 2023 A₀ (``ff_alpha``: optional B→K* coefficient
    vector), m_K*⁺.

    Eagerly, m_a ≥ m_B − m_K* raises ValueError; under jit the closed channel gives exactly 0 and a
    point outside the model's validity NaN.
    """
    _check_open(p, M_B_MINUS_M_KSTAR, "B⁺ → K*⁺ a")
    return _valid(p, _br_b_to_kstar(p, ff_alpha))


def escape_probability(p):
    """Probability that the ALP from B⁺ → K⁺a has not decayed within L_det: exp[−L_det/(βγ cτ_a)]
    (docs/physics/alp.md §2.5, [C] (11)). 0 when the ALP is produced at rest (closed channel),
    1 if it is stable."""
    p_a = two_body_momentum(c.M_B_PLUS, c.M_K_PLUS, p.m_a)
    # L/(βγ cτ) = L Γ_tot m_a / (|p_a| ħc)
    exponent = p.detector_length * total_width(p) * p.m_a / (_positive_or_one(p_a) * c.HBARC_GEV_M)
    return jnp.where(p_a > 0.0, jnp.exp(-exponent), 0.0)


def invisible_fraction(p):
    """BR(a → χχ̄) + B_vis exp[−L_det/(βγ cτ_a)], B_vis = 1 − BR(a → χχ̄)
    (docs/physics/alp.md §2.5, [C] (11)).

    Written as [Γ_χ + Γ_vis P_esc]/Γ_tot (no cancellation in 1 − BR); 1 if no channel is open.
    """
    w = widths(p)
    g_chi = w.pop("chichi")
    g_vis = sum(w.values())
    g_tot = g_chi + g_vis
    frac = (g_chi + g_vis * escape_probability(p)) / _positive_or_one(g_tot)
    return _valid(p, jnp.where(g_tot > 0.0, frac, 1.0))


def br_b_to_k_invisible(p, ff_alpha=None):
    """BR(B⁺ → K⁺ + inv)_NP = BR(B⁺ → K⁺a) × invisible fraction (docs/physics/alp.md §2.5, [C] (11))."""
    return br_b_to_k(p, ff_alpha) * invisible_fraction(p)


def summary(p):
    """Named floats for a parameter point (eager): widths [GeV] (hadronic channels below 2.5 GeV, see
    :func:`widths`), the partonic weight S(m_a), cτ [m], βγ, BRs, invisible fraction.

    Closed B decays are reported as 0 (no error).
    """
    out = {f"Gamma(a->{k}) [GeV]": float(v) for k, v in widths(p).items()}
    out["Gamma_total [GeV]"] = float(total_width(p))
    out["partonic weight S(m_a)"] = float(alp_hadronic.partonic_weight(p.m_a))  # 0: hadronic, 1: partonic
    out["BR(a->chi chibar)"] = float(br_to_dm(p))
    out["c tau_a [m]"] = float(decay_length(p))
    out["beta gamma (B rest frame)"] = float(boost_in_b_decay(p))
    out["P_escape"] = float(escape_probability(p))
    out["invisible fraction"] = float(invisible_fraction(p))
    out["BR(B+->K+ a)"] = float(_br_b_to_k(p, None))
    out["BR(B+->K*+ a)"] = float(_br_b_to_kstar(p, None))
    out["BR(B+->K+ inv)"] = out["BR(B+->K+ a)"] * out["invisible fraction"]
    return out


# ---------------------------------------------------- early-universe rates (docs/physics/alp-freeze-in.md §3)
def quark_yukawa(p, flavour):
    """Pseudoscalar Yukawa y_q = c_qq m_q / f_a (docs/physics/alp.md §2.1,
    docs/physics/alp-freeze-in.md §3.2), MS-bar m_q."""
    check_choice("flavour", flavour, c.QUARKS)
    return getattr(p, f"c_{flavour}{flavour}") * _QUARK_MASS[flavour] / p.f_a


def width_b_to_s_a(p):
    """Γ(b → s a) = m_b³/(64π f_a²) (|c^V_sb|² + |c^A_sb|²)(1 − m_a²/m_b²)² [GeV], m_s → 0,
    m_b = m_b(m_b) (docs/physics/alp-freeze-in.md §3.1, [C] (21)); exactly 0 for m_a ≥ m_b."""
    mb = c.M_BQ
    phase = jnp.where(p.m_a < mb, 1.0 - p.m_a**2 / mb**2, 0.0)
    return mb**3 / (64.0 * jnp.pi * p.f_a**2) * (p.c_sb_v**2 + p.c_sb_a**2) * phase**2


def _check_masses(m_q, m_a):
    check_positive("m_q", m_q, "GeV")
    check_nonnegative("m_a", m_a, "GeV")


def sigma_qg_to_qa(s, m_q, m_a, y, alpha_s):
    """σ(q g → q a)(s) [GeV⁻²] (docs/physics/alp-freeze-in.md §3.2, [C] (22)), averaged over
    initial spins/colours:

    σ = y²α_s/(48 s (1−x_q)³) [2((1−x_q)² − 2x_a(1+x_q) + 2x_a²) L_a + ℓ(8x_a − (1−x_q)²(3 − x_q + x_a))],
    x_q = m_q²/s, x_a = m_a²/s, ℓ = λ^{1/2}(1, x_q, x_a), L_a = ln[(1+x_q−x_a+ℓ)/(1+x_q−x_a−ℓ)]
    = 2 ln(1+x_q−x_a+ℓ) − ln(4x_q) (stable for x_q → 0). y = pseudoscalar Yukawa; m_q > 0.
    Exactly 0 for √s ≤ m_q + m_a. Same for q̄ g → q̄ a.
    """
    _check_masses(m_q, m_a)
    s_min = (m_q + m_a) ** 2
    is_open = s > s_min
    s = jnp.where(is_open, s, 4.0 * s_min)
    xq, xa = m_q**2 / s, m_a**2 / s
    ell = jnp.sqrt((s - (m_q + m_a) ** 2) * (s - (m_q - m_a) ** 2)) / s  # product form of λ^{1/2}
    log_a = 2.0 * jnp.log(1.0 + xq - xa + ell) - jnp.log(4.0 * xq)
    bracket = (2.0 * ((1.0 - xq) ** 2 - 2.0 * xa * (1.0 + xq) + 2.0 * xa**2) * log_a
               + ell * (8.0 * xa - (1.0 - xq) ** 2 * (3.0 - xq + xa)))
    sigma = y**2 * alpha_s / (48.0 * s * (1.0 - xq) ** 3) * bracket
    return jnp.where(is_open, sigma, 0.0)


def sigma_qqbar_to_ga(s, m_q, m_a, y, alpha_s):
    """σ(q q̄ → g a)(s) [GeV⁻²] (docs/physics/alp-freeze-in.md §3.2, [C] (23)), averaged over
    initial spins/colours:

    σ = 2y²α_s/(9 s β²(1−x_a)) [(1 + x_a² − 4x_q x_a) L_b − 2x_a β], β = √(1−4x_q),
    L_b = ln[(1+β)/(1−β)] = 2 ln(1+β) − ln(4x_q) (stable for x_q → 0). Exactly 0 for
    √s ≤ max(2m_q, m_a). m_q > 0.

    Note: for m_a > 2m_q, σ ∝ 1/(s − m_a²) as s → m_a² (soft gluon; the real counterpart of the
    inverse decay qq̄ → a), so the thermal average of this channel alone is log-divergent there.
    """
    _check_masses(m_q, m_a)
    s_min = jnp.maximum(4.0 * m_q**2, m_a**2)
    is_open = s > s_min
    s = jnp.where(is_open, s, 4.0 * s_min)
    xq, xa = m_q**2 / s, m_a**2 / s
    beta = jnp.sqrt(1.0 - 4.0 * xq)
    log_b = 2.0 * jnp.log1p(beta) - jnp.log(4.0 * xq)
    bracket = (1.0 + xa**2 - 4.0 * xq * xa) * log_b - 2.0 * xa * beta
    sigma = 2.0 * y**2 * alpha_s / (9.0 * s * beta**2 * (1.0 - xa)) * bracket
    return jnp.where(is_open, sigma, 0.0)


def sigma_qgamma_to_qa(s, m_q, m_a, y, charge, alpha_em=c.ALPHA_EM_0):
    """σ(q γ → q a) = σ(q g → q a)|_{α_s → 6 Q_q² α} [GeV⁻²] (docs/physics/alp-freeze-in.md §3.2, [C] (21));
    ``charge`` = Q_q."""
    return sigma_qg_to_qa(s, m_q, m_a, y, 6.0 * charge**2 * alpha_em)


def sigma_qqbar_to_gammaa(s, m_q, m_a, y, charge, alpha_em=c.ALPHA_EM_0):
    """σ(q q̄ → γ a) = σ(q q̄ → g a)|_{α_s → (3/4) Q_q² α}
    [GeV⁻²] (docs/physics/alp-freeze-in.md §3.2, [C] (21))."""
    return sigma_qqbar_to_ga(s, m_q, m_a, y, 0.75 * charge**2 * alpha_em)


# ------------------------------------------------ freeze-in ([C] Sec. II.2, docs/physics/alp-freeze-in.md §3)
QCD_TRANSITION_T = 0.15  # [GeV] below it quarks and gluons are confined: partonic production off
QCD_TRANSITION_WIDTH = 0.01  # [GeV] width of the smooth switch (model choice; the ALP thermalises
# long before for Belle II couplings, so Ωh² does not depend on it — tested)
T_START = 100.0  # [GeV] initial temperature, below the electroweak crossover (y_q ∝ m_q there)


def quark_plasma_fraction(T, p=None):
    """½[1 + tanh((T − 0.15 GeV)/0.01 GeV)]: partonic processes (quark/gluon scatterings and b → s a)
    act only in the quark–gluon plasma (bkdm model choice; [C] does not say). T in GeV."""
    del p
    return 0.5 * (1.0 + jnp.tanh((T - QCD_TRANSITION_T) / QCD_TRANSITION_WIDTH))


def plasma_alpha_s(T):
    """α_s in the plasma at μ = √((2πT)² + (1 GeV)²): α_s(2πT) for T ≫ 1/(2π) GeV, joining smoothly
    the value frozen below 1 GeV ([C] does not say which scale it uses;
    docs/physics/alp-freeze-in.md §3.2)."""
    return alpha_s(jnp.sqrt((2.0 * jnp.pi * T) ** 2 + 1.0))


def thermal_gluon_mass(T):
    """Asymptotic thermal gluon mass m_g² = g_s²T²(N_c + N_f/2)/6, N_f = 3, α_s of the plasma [GeV].

    Regulates the soft-gluon region of q q̄ → g a (docs/physics/alp-freeze-in.md §3.2 note):
    the gluon is a quasi-particle of mass m_g, so every q q̄ → g a channel is integrated from s ≥ max(4m_q²,
    (m_a + m_g)²), for m_a above and below 2m_q alike — for m_a > 2m_q the softer part is the inverse decay q
    q̄ → a, already in ⟨Γ(a → q q̄)⟩. Applying the cut on both sides keeps Ωh² continuous at m_a =
    2m_q: a cut only for m_a > 2m_q (bkdm ≤ 2026-11-21) made Ωh² jump by 1.7 % at m_a = 2m_c,
    where the unregulated σ ∝ 1/(1 − x_a) is log-enhanced at threshold (bkdm choice;
    [C] does not say how it treats this).
    """
    return jnp.sqrt(4.0 * jnp.pi * plasma_alpha_s(T) * 4.5 / 6.0) * T


def thermal_photon_mass(T):
    """Asymptotic thermal photon mass m_γ² = e²T² Σ_f N_c^f Q_f²/6 over e, u, d, s (= e²T²/2) [GeV]."""
    return jnp.sqrt(4.0 * jnp.pi * c.ALPHA_EM_0 / 2.0) * T


_LOG_GAMMA_FLOOR = -1000.0  # ln of a negligible production rate per ALP [GeV] (log_production_rate)


def _log_square(y):
    """ln y² with y = 0 → −∞ and a zero tangent there (safe inner value)."""
    nonzero = y != 0.0
    return jnp.where(nonzero, 2.0 * jnp.log(jnp.abs(jnp.where(nonzero, y, 1.0))), -jnp.inf)


_RATE_NODES = 16  # Gauss–Legendre nodes per 2 → 2 rate integral: 1e-6 in ln Γ_prod (32 nodes: 2e-10),
# below the 3e-4 of the Chebyshev table in T (kinks of α_s at the flavour thresholds)


def log_production_rate(T, p):
    """ln Γ_prod(T), Γ_prod = P/n_a^eq [GeV]: ALP production rate density by the SM plasma per
    equilibrium ALP ([C] (21)–(23), (27); docs/physics/alp-freeze-in.md §3.1–3.3), partonic (multiply by
    :func:`quark_plasma_fraction`). P sums, for every quark (MS-bar m_q, y_q = c_qq m_q/f_a,
    :func:`plasma_alpha_s`):
    q g → q a and q̄ g → q̄ a (g_q = 6, g_g = 16), q q̄ → g a, and the photon analogues (g_γ = 2),
    plus b → s a and b̄ → s̄ a decays, ⟨Γ⟩ n_b^eq (g_b = 6). Maxwell–Boltzmann statistics.
    """
    a_s = plasma_alpha_s(T)
    m_g, m_gamma = thermal_gluon_mass(T), thermal_photon_mass(T)
    rate = functools.partial(averages.log_scattering_rate_density, nodes=_RATE_NODES)
    terms = []
    for q in c.QUARKS:
        m_q, charge, y = _QUARK_MASS[q], _QUARK_CHARGE[q], quark_yukawa(p, q)
        # q q̄ → V a from the quasi-particle threshold (m_a + m_V)² (soft-V region, thermal_gluon_mass)
        s_annih_g = jnp.maximum(4.0 * m_q**2, (p.m_a + m_g) ** 2)
        s_annih_gamma = jnp.maximum(4.0 * m_q**2, (p.m_a + m_gamma) ** 2)
        # q g → q a and q̄ g → q̄ a (×2); q γ → q a is the same integral × (6Q²α/α_s)(g_γ/g_g)
        # exactly (same threshold, σ linear in the coupling, docs/physics/alp-freeze-in.md §3.2)
        # every σ ∝ y²: ln P = ln y² + ln P(y = 1), so that c_qq = 0 gives a −∞ term with a zero (not
        # 0·∞ = NaN) tangent instead of the logarithm of a vanishing integral
        log_y2 = _log_square(y)
        compton = jnp.log(2.0) + log_y2 + rate(lambda s, m_q=m_q: sigma_qg_to_qa(s, m_q, p.m_a, 1.0, a_s),
                                               m_q, 0.0, 6, 16, T, (m_q + p.m_a) ** 2)
        terms += [
            compton,
            compton + jnp.log(6.0 * charge**2 * c.ALPHA_EM_0 / a_s * 2.0 / 16.0),
            log_y2 + rate(lambda s, m_q=m_q: sigma_qqbar_to_ga(s, m_q, p.m_a, 1.0, a_s), m_q, m_q, 6, 6, T,
                          s_annih_g),
            log_y2 + rate(lambda s, m_q=m_q, e=charge: sigma_qqbar_to_gammaa(s, m_q, p.m_a, 1.0, e), m_q, m_q,
                          6, 6, T, s_annih_gamma),
        ]
    decay = 2.0 * averages.decay_average(width_b_to_s_a(p), c.M_BQ, T)
    open_ = decay > 0.0  # b → s a closed for m_a ≥ m_b: a −∞ term with a zero (not 0/0) tangent
    log_decay = jnp.where(open_, jnp.log(jnp.where(open_, decay, 1.0)), -jnp.inf)
    terms.append(log_decay + thermo.log_yield_eq(c.M_BQ, 6.0, T) + jnp.log(thermo.entropy_density(T)))
    log_n_a = thermo.log_yield_eq(p.m_a, 1.0, T) + jnp.log(thermo.entropy_density(T))
    # a floor term P = e^{−1000} n_a^eq keeps ln P and its tangent finite when every channel is closed
    # (c_qq = 0 and no b → s a); the production table is clamped at Γ_prod = e^{−690} GeV anyway. (A floor
    # on P itself, not on P/n_a^eq, was an enormous Γ_prod once n_a^eq ∝ e^{−m_a/T} fell below it: at
    # c_q = 0 and x ≳ 10³ the solve then ran out of steps.)
    terms.append(log_n_a + _LOG_GAMMA_FLOOR)
    log_p = jax.scipy.special.logsumexp(jnp.stack(terms), axis=0)
    return log_p - log_n_a


# a valid point solved in place of an invalid one (its result is discarded, base.safe_params)
_SAFE_POINT = Params.universal(m_a=2.1, f_a=1.5e8, c_q=1.0, c_sb_v=1.0, c_chi=1.0, m_chi=1e-3)


def relic(p, settings=solver.DEFAULT, t_start=T_START, history=0, initial="zero"):
    """Freeze-in of χ from ALP decays, [C] (27)–(28) (docs/physics/alp-freeze-in.md §3.5): Y_a,
    Y_χ from Y = 0 at ``t_start``; a→SM = Σ visible widths (13)–(15), a→χχ̄ = (12);
    Dirac χ (g = 4 for χ + χ̄). Returns :class:`bkdm.cosmo.freeze_in.FreezeInResult` (pure,
    jittable); NaN with ``status = solver.STATUS_INVALID_INPUT`` at a point outside the model's validity
    (traced input)."""
    status = validity_status(p)
    p = base.safe_params(p, status == 0, _SAFE_POINT)
    w_dm = width_to_dm(p)
    w_sm = total_width(p) - w_dm
    result = freeze_in.solve(log_production_rate, p, p.m_a, 1.0, p.m_chi, 4.0, w_sm, w_dm, settings,
                             t_start=t_start, window=quark_plasma_fraction, history=history, initial=initial,
                             table_nodes=48)
    return solver.with_input_status(result, status)


def omega_h2(p, settings=solver.DEFAULT, t_start=T_START):
    """Relic density Ω_χ h² of freeze-in DM (docs/physics/alp-freeze-in.md §3.7,
    [C] (30)). Raises SolverError eagerly on failure."""
    r = relic(p, settings, t_start)
    return solver.checked(r.omega_h2, r.status, "ALP freeze-in")


__all__ = [
    "NAME", "SOURCE", "Params", "PARAMETERS", "CONDITIONS", "BENCHMARK", "DM_DOF", "ALIASES", "SYMBOLS",
    "validity_status", "mediator_mass", "dm_mass", "loop_function_b1",
    "c_eff_photon", "c_eff_gluon", "width_to_dm", "width_to_quark_pair", "width_to_lepton_pair",
    "width_to_gluons", "width_to_photons", "widths", "total_width", "br_to_dm", "decay_length",
    "boost_in_b_decay", "br_b_to_k", "br_b_to_kstar", "escape_probability", "invisible_fraction",
    "br_b_to_k_invisible", "summary", "quark_yukawa", "width_b_to_s_a", "sigma_qg_to_qa",
    "sigma_qqbar_to_ga", "sigma_qgamma_to_qa", "sigma_qqbar_to_gammaa", "quark_plasma_fraction",
    "plasma_alpha_s", "thermal_gluon_mass", "thermal_photon_mass", "log_production_rate", "relic", "omega_h2",
]
