"""Hadronic decays of a light ALP (m_a ≲ 2.5 GeV): leading-order U(3) chiral perturbation theory with
ALP–π⁰/η/η′ mixing, vector-meson dominance (VMD) and the data-driven form factor F(m_a) of Aloni, Soreq,
Williams [ASW] (arXiv:1811.03474), and the C² transition to the partonic widths of [C] between 1.5 and
2.5 GeV. Physics and equations: docs/physics/alp-hadronic.md §2.8. Units: GeV.

Inputs are the ALP couplings of :mod:`bkdm.models.alp` below the charm threshold: m_a, f_a, the axial
light-quark couplings c = (c_uu, c_dd, c_ss) and the gluon coupling with the heavy quarks integrated out,
c_G^had = c_GG + ½ Σ_{Q=c,b,t} c_QQ B₁(4m_Q²/m_a²) (§2.8.1).

Frame (§2.8.1): no chiral rotation is made (κ_q = 0); c_GG enters only through the U(1)_A anomaly term
−(F²M₀²/12)(−i ln det Σ + 2c_G a/f_a)², so the results are free of the unphysical κ_q by construction.
Expanding the LO Lagrangian (Σ = exp(i√2Π/F)) gives (§2.8.2–§2.8.4):

* ALP–meson mixing (P = π⁰, η, η′ in the quark basis t_P,q): kinetic K_P = −F/(√2 f_a) Σ_q c_q t_P,q and
  mass M²_aP = √2 F M₀² c_G/(3f_a) Σ_q t_P,q; θ_aP = (M²_aP − K_P m_a²)/(m_a² − m_P² + i m_P Γ_P) — the
  poles at m_π, m_η, m_η′ are regulated by the meson widths. The ALP state is A_q = Σ_P θ_aP t_P,q.
* three-meson decays (3π, ηππ, η′ππ, KK̄π): A contracted with the quartic vertices of (1/12F²) Tr[[Π,∂Π]²]
  and (B₀/6F²) Tr[MΠ⁴] (off-shell leg at p² = m_a²), the contact term (√2/6Ff_a) ∂_μa Tr[c[Π,[Π,∂^μΠ]]],
  and a₀(980) exchange from the resonance Lagrangian c_d Tr[S u_μu^μ] + c_m Tr[S χ₊]; 3π × K_3π;
* a → γγ: c_γγ^had = F(m_a) (f_a/F) N_c √2 Σ_q A_q Q_q² (WZW through the mixing, ASW's VMD);
* a → π⁺π⁻γ: WZW box anomaly (√2 e/4π²F³) A_u times the ρ propagator (P-wave width);
* a → VV (ρρ, ωω, φφ, K*K̄*): VMD coupling C = 3√2 g²/(16π²F) times a trace of A, g = m_ρ/(√2F) (KSRF).

Every exclusive amplitude carries ASW's F(m_a) (fit to their digitised Fig. 2, shipped in
``bkdm/data/alp_hadronic``). The widths here are the exclusive hadronic ones; :func:`partonic_weight`
gives the weight S(m_a) with which :func:`bkdm.models.alp.widths` mixes them with the partonic ones.
Checks against meson data (the η, η′, π⁰ "as ALPs") and ALPaca 1.2.0: tests/test_alp_hadronic.py.

Everything is pure JAX (jit/grad/vmap); closed channels give exactly 0 with finite gradients.
"""

import functools
import itertools
import json
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial.legendre import leggauss

from bkdm import constants as c
from bkdm.kinematics import kallen, safe_sqrt

# ------------------------------------------------------------------ hadron inputs (PDG 2024, RPP)
M_PI0 = 0.1349768
M_PI = 0.13957039  # π±
M_ETA = 0.547862
M_ETAP = 0.95778
M_K = c.M_K_PLUS
M_K0 = 0.497611
M_RHO = 0.77526  # ρ(770)⁰
GAMMA_RHO = 0.1491
M_OMEGA = 0.78266
M_PHI = 1.019461
GAMMA_PI0 = c.HBAR_GEV_S / 8.43e-17  # τ_π⁰ = 8.43e-17 s → 7.81e-9 GeV
GAMMA_ETA = 1.31e-6
GAMMA_ETAP = 0.188e-3
F_PI = 0.1302 / math.sqrt(2.0)  # F = f_π/√2 = 92.07 MeV (f_π± = 130.2 MeV)
G_RHO = M_RHO / (math.sqrt(2.0) * F_PI)  # ρππ / VMD coupling from KSRF, m_ρ² = 2g²F² → 5.95
N_C = c.N_COLOURS

TRANSITION = (1.5, 2.5)  # [GeV] hadronic → partonic (§2.8.5)
_DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "alp_hadronic"

# ------------------------------------------------------------------ quark-basis meson vectors (§2.8.1)
# Neutral fields are diagonal, Π_qq = Σ_P P t_P,q. The vectors t_P are the eigenvectors of the LO U(3)
# mass matrix of the diagonal fields, 2B₀ diag(m_u, m_d, m_s) + (M₀²/3) J (J: all ones), so π⁰–η–η′
# mixing, isospin breaking included, is that of the Lagrangian (LO η–η′ angle −19.8°); M₀² (the η₀ anomaly
# mass) from the trace: m_π⁰² + m_η² + m_η′² = 2B₀(m_u + m_d + m_s) + M₀² → 0.703 GeV². The physical
# masses are used in propagators and phase space (the LO eigenvalues are 0.134, 0.506, 0.981 GeV).
_CHARGE = np.array([2.0, -1.0, -1.0]) / 3.0
_B0M = np.array([c.M_U, c.M_D, c.M_S]) * M_PI0**2 / (c.M_U + c.M_D)  # B₀m_q, m_π⁰² = B₀(m_u + m_d)
NEUTRAL_MASS = np.array([M_PI0, M_ETA, M_ETAP])
NEUTRAL_WIDTH = np.array([GAMMA_PI0, GAMMA_ETA, GAMMA_ETAP])
M0_SQUARED = float(np.sum(NEUTRAL_MASS**2) - 2.0 * np.sum(_B0M))
_EIGENVALUES, _EIGENVECTORS = np.linalg.eigh(np.diag(2.0 * _B0M) + M0_SQUARED / 3.0 * np.ones((3, 3)))
NEUTRAL = (_EIGENVECTORS * np.sign(_EIGENVECTORS[0])).T  # rows π⁰, η, η′ (u component > 0); columns u, d, s
T_PI0, T_ETA, T_ETAP = NEUTRAL
_T3 = np.array([1.0, -1.0, 0.0]) / math.sqrt(2.0)
_T8 = np.array([1.0, 1.0, -2.0]) / math.sqrt(6.0)
_T0 = np.array([1.0, 1.0, 1.0]) / math.sqrt(3.0)
THETA_ETA = math.atan2(-float(T_ETA @ _T0), float(T_ETA @ _T8))  # η = cos θ η₈ − sin θ η₀ (LO output)


# ------------------------------------------------------------------ LO vertices (numpy, at import)
def _unit(i, j):
    m = np.zeros((3, 3))
    m[i, j] = 1.0
    return m


def _vertex_tables(legs):
    """Coefficients of the LO quartic vertex of an off-shell neutral leg 0 = E_qq (q = u, d, s) with the
    meson legs 1–3 (3×3 matrices), all momenta k_i incoming (§2.8.3):

    mass[q]       from (B₀/6F²) Tr[MΠ⁴]:                       Σ_σ Tr[B₀M X_σ0 X_σ1 X_σ2 X_σ3]/6F²
    kin[q, i, j]  of k_i·k_j, from (1/12F²) Tr[[Π,∂Π][Π,∂Π]]:  −Σ_σ Tr[[X_σ0,X_σ1][X_σ2,X_σ3]] k_σ1·k_σ3/12F²
    axial[q, j]   of k_a·k_j (× c_q/f_a), from (√2/6F f_a) ∂a Tr[c[Π,[Π,∂Π]]]:
                  −√2 Σ_σ Tr[E_qq [X_σ1,[X_σ2,X_σ3]]] k_a·k_σ3 /6F
    (σ runs over the assignments of legs to the operator's slots; ∂ → −ik.)
    """
    mass, kin, axial = np.zeros(3), np.zeros((3, 4, 4)), np.zeros((3, 4))
    comm = lambda a, b: a @ b - b @ a
    for q in range(3):
        mats = [_unit(q, q), *legs]
        for s in itertools.permutations(range(4)):
            x = [mats[i] for i in s]
            mass[q] += np.trace(np.diag(_B0M) @ x[0] @ x[1] @ x[2] @ x[3]) / (6.0 * F_PI**2)
            tr = np.trace(comm(x[0], x[1]) @ comm(x[2], x[3]))
            kin[q, s[1], s[3]] -= 0.5 * tr / (12.0 * F_PI**2)
            kin[q, s[3], s[1]] -= 0.5 * tr / (12.0 * F_PI**2)
        for s in itertools.permutations(range(1, 4)):
            x = [mats[i] for i in s]
            tr = np.trace(_unit(q, q) @ comm(x[0], comm(x[1], x[2])))
            axial[q, s[2]] -= math.sqrt(2.0) * tr / (6.0 * F_PI)
    return mass, kin, axial


_PIZ, _ETA, _ETAP = (np.diag(t) for t in (T_PI0, T_ETA, T_ETAP))
# off-diagonal fields: Π₁₂ = π⁺ creates an outgoing π⁻, Π₂₁ = π⁻ an outgoing π⁺; Π₁₃ = K⁺, Π₃₁ = K⁻,
# Π₂₃ = K⁰ (creates K̄⁰), Π₃₂ = K̄⁰ (creates K⁰)
_PIP_OUT, _PIM_OUT = _unit(1, 0), _unit(0, 1)
_KP_OUT, _KM_OUT, _K0_OUT, _K0BAR_OUT = _unit(2, 0), _unit(0, 2), _unit(2, 1), _unit(1, 2)

# three-meson final states: per channel a list of (legs 1–3, masses, identical-particle factor, a₀ exchange?)
# — KK̄π sums K⁺K⁻π⁰, K⁰K̄⁰π⁰ and K⁺K̄⁰π⁻ (×2 for the charge conjugate K⁻K⁰π⁺, same rate by CP)
THREE_MESON_CHANNELS = {
    "pi0pi0pi0": (((_PIZ, _PIZ, _PIZ), (M_PI0, M_PI0, M_PI0), 6.0, False),),
    "pippimpi0": (((_PIZ, _PIP_OUT, _PIM_OUT), (M_PI0, M_PI, M_PI), 1.0, False),),
    "etapi0pi0": (((_ETA, _PIZ, _PIZ), (M_ETA, M_PI0, M_PI0), 2.0, True),),
    "etapippim": (((_ETA, _PIP_OUT, _PIM_OUT), (M_ETA, M_PI, M_PI), 1.0, True),),
    "etaprimepi0pi0": (((_ETAP, _PIZ, _PIZ), (M_ETAP, M_PI0, M_PI0), 2.0, True),),
    "etaprimepippim": (((_ETAP, _PIP_OUT, _PIM_OUT), (M_ETAP, M_PI, M_PI), 1.0, True),),
    "kkpi": (((_PIZ, _KP_OUT, _KM_OUT), (M_PI0, M_K, M_K), 1.0, True),
             ((_PIZ, _K0_OUT, _K0BAR_OUT), (M_PI0, M_K0, M_K0), 1.0, True),
             ((_PIM_OUT, _KP_OUT, _K0BAR_OUT), (M_PI, M_K, M_K0), 0.5, True)),
}
# K-factor of the isospin-violating 3π channels: Γ(η → 3π) measured (PDG 2024: 1.31 keV × (32.57 % +
# 22.92 %) = 727 eV) over this LO amplitude evaluated for the η itself (479 eV) — the missing ππ
# rescattering (§2.8.3); recomputed in tests/test_alp_hadronic.py
K_3PI = 1.5190


# ------------------------------------------------------------------ scalar exchange (RχT, §2.8.3)
# L_S = c_d Tr[S u_μu^μ] + c_m Tr[S χ₊] (Ecker, Gasser, Pich, de Rafael, Nucl. Phys. B321 (1989) 311):
# S P P:  (2c_d/F²) Tr[S ∂Π∂Π] − (c_m/F²) Tr[S {Π,{Π,B₀M}}];  a S P:  −(√2 c_d/F f_a) ∂_μa Tr[S{∂^μΠ, c}].
# Only the isovector a₀(980) is exchanged, and only where it is isospin-allowed (ηπ, η′π, KK̄ pairs):
# it dominates η′ → ηππ (86 keV here vs 122 keV measured, LO alone 3.1 keV); an f₀(500) Breit–Wigner
# overshoots η′ → ηππ ×3 (§2.8.3).
C_D = 0.032  # [GeV] |c_d|, |c_m| of Ecker et al. (1989), c_d c_m > 0
C_M = 0.042
M_A0, GAMMA_A0 = 0.980, 0.075  # a₀(980): PDG mass, width 50–100 MeV (this Lagrangian gives 103 MeV)
_A0_STATES = ((np.diag(_T3), np.diag(_T3)), (_unit(0, 1), _unit(1, 0)), (_unit(1, 0), _unit(0, 1)))
_PAIRS = ((2, 3, 1), (1, 3, 2), (1, 2, 3))  # (i, j) exchange channel, k spectator next to the ALP


def _spp_vertex(s_field, x1, x2):
    """(mass, kin) of the S P P vertex, amplitude mass + kin·k₁·k₂ (momenta incoming)."""
    anti = lambda a, b: a @ b + b @ a
    b0m = np.diag(_B0M)
    kin = -2.0 * C_D / F_PI**2 * (np.trace(s_field @ x1 @ x2) + np.trace(s_field @ x2 @ x1))
    mass = -C_M / F_PI**2 * (np.trace(s_field @ anti(x1, anti(x2, b0m)))
                             + np.trace(s_field @ anti(x2, anti(x1, b0m))))
    return mass, kin


def _scalar_tables(legs):
    """a₀ exchange in the pair channels (i, j, k) of ``_PAIRS`` (§2.8.3): spp[pair, state, 2] (mass, kin
    of k_i·k_j), xps[pair, state, q, 2] (off-shell leg 0 = E_qq with P_k: mass, kin of k₀·k_k) and
    contact[pair, state, q] (a S P_k, × c_q/f_a k₀·k_k)."""
    spp = np.zeros((3, len(_A0_STATES), 2))
    xps = np.zeros((3, len(_A0_STATES), 3, 2))
    contact = np.zeros((3, len(_A0_STATES), 3))
    for ip, (i, j, k) in enumerate(_PAIRS):
        for js, (s_xp, s_pp) in enumerate(_A0_STATES):
            spp[ip, js] = _spp_vertex(s_pp, legs[i - 1], legs[j - 1])
            for q in range(3):
                cq = _unit(q, q)
                xps[ip, js, q] = _spp_vertex(s_xp, cq, legs[k - 1])
                anti = legs[k - 1] @ cq + cq @ legs[k - 1]
                contact[ip, js, q] = math.sqrt(2.0) * C_D / F_PI * np.trace(s_xp @ anti)
    return spp, xps, contact


@functools.cache
def _rows():
    """All three-meson sub-channels stacked for one vectorised evaluation: channel index per row and the
    arrays of :func:`_vertex_tables`, :func:`_scalar_tables`, masses, symmetry and K-factors."""
    index, tables = [], []
    for ic, (name, subs) in enumerate(THREE_MESON_CHANNELS.items()):
        for legs, masses, sym, a0 in subs:
            mass, kin, axial = _vertex_tables(list(legs))
            spp, xps, contact = _scalar_tables(list(legs))
            keep = 1.0 if a0 else 0.0
            k_factor = K_3PI if name in ("pi0pi0pi0", "pippimpi0") else 1.0
            index.append(ic)
            tables.append((mass, kin, axial, keep * spp, xps, contact, np.asarray(masses), sym, k_factor))
    stacked = tuple(np.stack(t) for t in zip(*tables, strict=True))  # numpy: no tracer leaks from the cache
    return np.asarray(index), stacked


# ------------------------------------------------------------------ data-driven form factor, transition
@functools.cache
def _form_factor_spline():
    spec = json.loads((_DATA / "form_factor_hermite.json").read_text())
    return (np.asarray(spec["knots"]), np.asarray(spec["values"]), np.asarray(spec["slopes"]),
            float(spec["tail_power"]))


def form_factor(m_a):
    """ASW's data-driven suppression F(m_a) of exclusive hadronic ALP amplitudes ([ASW] Fig. 2, eq. (17);
    §2.8.4): 1 for m_a ≤ 1.45 GeV, a C¹ monotone cubic Hermite fit to the digitised figure up to 2.0 GeV,
    F(2 GeV)(2 GeV/m_a)⁴ above. m_a in GeV."""
    knots, values, slopes, power = (jnp.asarray(x) for x in _form_factor_spline())
    m = jnp.asarray(m_a, dtype=jnp.float64)
    inside = jnp.clip(m, knots[0], knots[-1])
    k = jnp.clip(jnp.searchsorted(knots, inside, side="right") - 1, 0, len(knots) - 2)
    x0, h = knots[k], knots[k + 1] - knots[k]
    t = (inside - x0) / h
    spline = ((2 * t**3 - 3 * t**2 + 1) * values[k] + (t**3 - 2 * t**2 + t) * h * slopes[k]
              + (-2 * t**3 + 3 * t**2) * values[k + 1] + (t**3 - t**2) * h * slopes[k + 1])
    tail = values[-1] * (knots[-1] / jnp.maximum(m, knots[-1])) ** power
    return jnp.where(m <= knots[0], 1.0, jnp.where(m >= knots[-1], tail, spline))


def partonic_weight(m_a):
    """S(m_a) = 6x⁵ − 15x⁴ + 10x³, x = (m_a − 1.5 GeV)/(1 GeV) clipped to [0, 1] (§2.8.5): the weight of
    the partonic widths (a → qq̄, gg; light-quark loops in a → γγ); 1 − S that of the hadronic ones.
    C² in m_a (S', S'' vanish at both ends). m_a in GeV."""
    lo, hi = TRANSITION
    x = jnp.clip((jnp.asarray(m_a, dtype=jnp.float64) - lo) / (hi - lo), 0.0, 1.0)
    return x**3 * (10.0 + x * (-15.0 + 6.0 * x))


# ------------------------------------------------------------------ ALP–meson mixing (§2.8.2)
def mixing_angles(m_a, f_a, c_light, c_glue):
    """θ_aP for P = (π⁰, η, η′) (complex, dimensionless): θ = (M²_aP − K_P m_a²)/(m_a² − m_P² + i m_P Γ_P),
    K_P = −F/(√2 f_a) Σ_q c_q t_P,q, M²_aP = √2 F M₀² c_G/(3f_a) Σ_q t_P,q (§2.8.2).
    ``c_light`` = (c_uu, c_dd, c_ss), ``c_glue`` = c_G^had (module docstring); masses in GeV."""
    c_light = jnp.asarray(c_light)
    kinetic = -F_PI / (math.sqrt(2.0) * f_a) * (jnp.asarray(NEUTRAL) @ c_light)
    mass2 = math.sqrt(2.0) * F_PI * M0_SQUARED * c_glue / (3.0 * f_a) * jnp.asarray(NEUTRAL.sum(axis=1))
    den = m_a**2 - NEUTRAL_MASS**2 + 1j * NEUTRAL_MASS * NEUTRAL_WIDTH
    return (mass2 - kinetic * m_a**2) / den


def alp_state(m_a, f_a, c_light, c_glue):
    """Quark-basis components A_q = Σ_P θ_aP t_P,q (q = u, d, s) of the neutral-meson field the ALP
    carries (§2.8.2); complex."""
    return mixing_angles(m_a, f_a, c_light, c_glue) @ jnp.asarray(NEUTRAL, dtype=jnp.complex128)


def photon_coupling(m_a, f_a, c_light, c_glue):
    """Hadronic part of c_γγ^eff replacing the u, d, s loops of [C] (5): F(m_a) (f_a/F) N_c √2 Σ_q A_q Q_q²
    (WZW of the mixed mesons, ASW's VMD; §2.8.4). Complex, dimensionless; broadcasts like
    :func:`exclusive_widths`."""
    def core(m_a, f_a, c_light, c_glue):
        state = alp_state(m_a, f_a, c_light, c_glue)
        return form_factor(m_a) * f_a / F_PI * N_C * math.sqrt(2.0) * (state @ _CHARGE**2)

    c_light = jnp.asarray(c_light, dtype=jnp.float64)
    return jnp.vectorize(core, signature="(),(),(k),()->()")(m_a, f_a, c_light, c_glue)


# ------------------------------------------------------------------ three-body phase space
_OUTER_NODES = 64  # Gauss–Legendre in u, s₂₃ = lo + (hi − lo)(1 − cos πu)/2 (smooth at the √ endpoints)
_INNER_NODES = 4  # |M|² is a polynomial of degree ≤ 2 in s₁₂ at fixed s₂₃: exact


@functools.cache
def _nodes():
    u, wu = leggauss(_OUTER_NODES)
    v, wv = leggauss(_INNER_NODES)
    return 0.5 * (u + 1.0), 0.5 * wu, v, wv


def _three_body_width(amp2, m_a, masses, symmetry):
    """Γ = 1/(S (2π)³ 32 m_a³) ∫ds₂₃ ∫ds₁₂ Σ|M|² (Dalitz plot, PDG RPP kinematics review) [GeV] for rows of
    final states a → 1 2 3 (``masses``: [rows, 3], ``symmetry``: [rows]); ``amp2(s12, s13, s23)`` the
    spin-summed |M|² on [rows, outer, inner] Dalitz points. Exactly 0 below threshold (finite gradient)."""
    m1, m2, m3 = masses[:, 0], masses[:, 1], masses[:, 2]
    threshold = m1 + m2 + m3
    open_ = m_a > threshold
    m = jnp.where(open_, m_a, threshold + 1.0)[:, None]
    u, wu, v, wv = _nodes()
    m1, m2, m3 = m1[:, None], m2[:, None], m3[:, None]
    lo, hi = (m2 + m3) ** 2, (m - m1) ** 2
    s23 = lo + (hi - lo) * 0.5 * (1.0 - jnp.cos(jnp.pi * u))
    jac = (hi - lo) * 0.5 * jnp.pi * jnp.sin(jnp.pi * u)
    rs = jnp.sqrt(s23)
    e2 = (s23 - m3**2 + m2**2) / (2.0 * rs)
    e1 = (m**2 - s23 - m1**2) / (2.0 * rs)
    p2, p1 = safe_sqrt(e2**2 - m2**2), safe_sqrt(e1**2 - m1**2)
    mid, half = (e1 + e2) ** 2 - p1**2 - p2**2, 2.0 * p1 * p2
    s12 = mid[..., None] + half[..., None] * v
    s23b = jnp.broadcast_to(s23[..., None], s12.shape)
    s13 = (m**2 + m1**2 + m2**2 + m3**2)[..., None] - s12 - s23b
    inner = jnp.sum(amp2(s12, s13, s23b) * wv, axis=-1) * half
    width = jnp.sum(inner * jac * wu, axis=-1) / (symmetry * (2.0 * jnp.pi) ** 3 * 32.0 * m[:, 0] ** 3)
    return jnp.where(open_, width, 0.0)


_PAIR_INDEX = {(1, 2): 0, (1, 3): 1, (2, 3): 2}  # s₁₂, s₁₃, s₂₃


def _invariant_coefficients(masses):
    """k_i·k_j (legs 0 = ALP / off-shell meson, incoming; 1–3 outgoing, k = −p) as affine functions
    k_i·k_j = const + ma2[i, j] m_a² + Σ_p lin[i, j, p] s_p of the pair invariants s_p = (s₁₂, s₁₃, s₂₃):
    k₀² = m_a², k_j² = m_j², p_i·p_j = (s_ij − m_i² − m_j²)/2, −P·p_k = −(m_a² + m_k² − s_ij)/2.
    ``masses``: [rows, 3] → const [rows, 4, 4]; ma2 [4, 4] and lin [4, 4, 3] are row-independent."""
    msq = np.concatenate([np.zeros((len(masses), 1)), np.asarray(masses) ** 2], axis=1)
    const, ma2, lin = np.zeros((len(masses), 4, 4)), np.zeros((4, 4)), np.zeros((4, 4, 3))
    ma2[0, 0] = 1.0
    for i in range(1, 4):
        const[:, i, i] = msq[:, i]
    for (i, j), p in _PAIR_INDEX.items():
        for a, b in ((i, j), (j, i)):
            const[:, a, b] = -0.5 * (msq[:, i] + msq[:, j])
            lin[a, b, p] = 0.5
    for k, (i, j) in ((1, (2, 3)), (2, (1, 3)), (3, (1, 2))):
        for a, b in ((0, k), (k, 0)):
            const[:, a, b] = -0.5 * msq[:, k]
            ma2[a, b] = -0.5
            lin[a, b, _PAIR_INDEX[(i, j)]] = 0.5
    return const, ma2, lin


def _three_meson_widths(m_a, f_a, c_light, state, ff):
    """Widths of all rows of :func:`_rows` [GeV]: LO contact + mixing (§2.8.3) + a₀ exchange, × F(m_a).

    The amplitude is α₀ + Σ_p α_p s_p + Σ_pairs (e₀ + e₁ s_ij + e₂ s_ij²)/(m_a₀² − i m_a₀Γ_a₀ − s_ij), the
    coefficients contracted once from the vertex tables (k_i·k_j is affine in s_p)."""
    _, (mass, kin, axial, spp, xps, contact_s, masses, symmetry, k_factor) = _rows()
    const, ma2, lin = _invariant_coefficients(masses)
    coupling = c_light / f_a
    g0 = const + ma2 * m_a**2  # [rows, 4, 4]: k_i·k_j at s_p = 0
    # LO: Σ_q A_q (mass + kin:G) + Σ_q (c_q/f_a) axial·G₀ⱼ
    kin_a = jnp.einsum("q,rqij->rij", state, kin)
    axial_c = jnp.einsum("q,rqj->rj", coupling, axial)
    alpha0 = state @ mass.T + jnp.sum(kin_a * g0, axis=(1, 2)) + jnp.sum(axial_c * g0[:, 0, :], axis=1)
    alpha = jnp.einsum("rij,ijp->rp", kin_a, lin) + jnp.einsum("rj,jp->rp", axial_c, lin[0])
    # a₀ exchange in pair (i, j): source(g₀ₖ) · decay(g_ij), both affine in s_ij → quadratic numerator
    exchange = []
    for ip, (i, j, k) in enumerate(_PAIRS):
        d0 = spp[:, ip, :, 0] + spp[:, ip, :, 1] * const[:, None, i, j]  # [rows, states]
        d1 = 0.5 * spp[:, ip, :, 1]
        x_lin = (jnp.einsum("q,rsq->rs", state, xps[:, ip, :, :, 1])
                 + jnp.einsum("q,rsq->rs", coupling, contact_s[:, ip]))
        src0 = jnp.einsum("q,rsq->rs", state, xps[:, ip, :, :, 0]) + x_lin * (g0[:, 0, k][:, None])
        src1 = 0.5 * x_lin
        exchange.append(jnp.stack([jnp.sum(src0 * d0, axis=1), jnp.sum(src0 * d1 + src1 * d0, axis=1),
                                   jnp.sum(src1 * d1, axis=1)], axis=-1))
    exchange = jnp.stack(exchange, axis=1)  # [rows, pairs, 3]
    pole = M_A0**2 - 1j * M_A0 * GAMMA_A0

    def amp2(s12, s13, s23):
        s_p = (s12, s13, s23)
        amp = alpha0[:, None, None] + sum(alpha[:, p, None, None] * s_p[p] for p in range(3))
        for ip, (i, j, _) in enumerate(_PAIRS):
            sij = s_p[_PAIR_INDEX[(i, j)]]
            e = exchange[:, ip]
            numerator = e[:, 0, None, None] + sij * (e[:, 1, None, None] + sij * e[:, 2, None, None])
            amp = amp + numerator / (pole - sij)
        return k_factor[:, None, None] * jnp.abs(amp * ff) ** 2

    return _three_body_width(amp2, m_a, masses, symmetry)


def _rho_propagator(s):
    """m_ρ²/(m_ρ² − s − i m_ρ Γ_ρ (p(s)/p(m_ρ²))³), p(s) = √(s/4 − m_π²) (P-wave width); 1 at s = 0."""
    p_ratio = safe_sqrt(s / 4.0 - M_PI**2) / math.sqrt(M_RHO**2 / 4.0 - M_PI**2)
    return M_RHO**2 / (M_RHO**2 - s - 1j * M_RHO * GAMMA_RHO * p_ratio**3)


def _width_pipigamma(m_a, state, ff):
    # Σ|M|² = |√2e/(4π²F³) A_u F(m_a) D_ρ(s)|² [s(t − m_π²)(u − m_π²) − m_π²(m_a² − s)²]/4 (§2.8.4);
    # leg 1 = γ, s = s₂₃ = m_ππ², t = s₁₂, u = s₁₃
    norm = math.sqrt(2.0 * 4.0 * math.pi * c.ALPHA_EM_0) / (4.0 * math.pi**2 * F_PI**3)

    def amp2(s12, s13, s23):
        gram = 0.25 * (s23 * (s12 - M_PI**2) * (s13 - M_PI**2) - M_PI**2 * (m_a**2 - s23) ** 2)
        return jnp.abs(norm * state[0] * ff * _rho_propagator(s23)) ** 2 * jnp.maximum(gram, 0.0)

    return _three_body_width(amp2, m_a, jnp.asarray([[0.0, M_PI, M_PI]]), jnp.ones(1))[0]


# a → V V': (flavour factor Tr-structure of A, masses, identical-particle factor) (§2.8.4)
VECTOR_CHANNELS = {
    "rhorho": (((1.0, 1.0, 0.0), (M_RHO, M_RHO), 2.0), ((1.0, 1.0, 0.0), (M_RHO, M_RHO), 1.0)),  # ρ⁰ρ⁰, ρ⁺ρ⁻
    "omegaomega": (((1.0, 1.0, 0.0), (M_OMEGA, M_OMEGA), 2.0),),
    "phiphi": (((0.0, 0.0, 2.0), (M_PHI, M_PHI), 2.0),),
    "kstarkstar": (((1.0, 0.0, 1.0), (c.M_KSTAR_PLUS, c.M_KSTAR_PLUS), 1.0),
                   ((0.0, 1.0, 1.0), (c.M_KSTAR0, c.M_KSTAR0), 1.0)),
}
VVP_COUPLING = 3.0 * math.sqrt(2.0) * G_RHO**2 / (16.0 * math.pi**2 * F_PI)  # C [GeV⁻¹] → 10.3


def _width_vv(specs, m_a, state, ff):
    # Γ = S |C K F|² λ^{3/2}(m_a², m₁², m₂²)/(32π m_a³), K = flavour factor · A (§2.8.4)
    total = 0.0
    for flavour, (m1, m2), symmetry in specs:
        lam = kallen(m_a**2, m1**2, m2**2)
        open_ = (m_a > m1 + m2) & (lam > 0.0)
        lam32 = jnp.where(open_, jnp.where(open_, lam, 1.0) ** 1.5, 0.0)
        amp = VVP_COUPLING * (state @ jnp.asarray(flavour)) * ff
        total = total + jnp.abs(amp) ** 2 * lam32 / (symmetry * 32.0 * jnp.pi * m_a**3)
    return total


CHANNELS = (*THREE_MESON_CHANNELS, "pippimgamma", *VECTOR_CHANNELS)


def _exclusive_widths(m_a, f_a, c_light, c_glue):
    state = alp_state(m_a, f_a, c_light, c_glue)
    ff = form_factor(m_a)
    index, _ = _rows()
    rows = _three_meson_widths(m_a, f_a, c_light, state, ff)
    out = [jnp.sum(rows[index == ic]) for ic in range(len(THREE_MESON_CHANNELS))]
    out.append(_width_pipigamma(m_a, state, ff))
    out.extend(_width_vv(specs, m_a, state, ff) for specs in VECTOR_CHANNELS.values())
    return jnp.stack(out)


def exclusive_widths(m_a, f_a, c_light, c_glue):
    """Exclusive hadronic ALP widths [GeV] (§2.8.3–§2.8.4), each × F(m_a)²: a → π⁰π⁰π⁰, π⁺π⁻π⁰ (× K_3π),
    ηπ⁰π⁰, ηπ⁺π⁻, η′π⁰π⁰, η′π⁺π⁻, KK̄π (all charges), π⁺π⁻γ, ρρ, ωω, φφ, K*K̄* (keys of ``CHANNELS``).
    m_a, f_a [GeV] and c_glue broadcast against ``c_light[..., 3]`` = (c_uu, c_dd, c_ss). Not weighted
    by 1 − S(m_a)."""
    widths = _exclusive_widths_vectorised(m_a, f_a, jnp.asarray(c_light, dtype=jnp.float64), c_glue)
    return {name: widths[..., i] for i, name in enumerate(CHANNELS)}


# compiled once per input shape: called eagerly (op by op) the three-body quadratures are slow
_exclusive_widths_vectorised = jax.jit(jnp.vectorize(_exclusive_widths, signature="(),(),(k),()->(n)"))


__all__ = [
    "M_PI0", "M_PI", "M_ETA", "M_ETAP", "F_PI", "THETA_ETA", "M0_SQUARED", "NEUTRAL", "T_PI0", "T_ETA",
    "T_ETAP", "CHANNELS", "TRANSITION", "form_factor", "partonic_weight", "mixing_angles", "alp_state",
    "photon_coupling", "exclusive_widths",
]
