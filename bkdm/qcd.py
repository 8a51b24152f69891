"""Running strong coupling α_s(μ): four-loop MS-bar running with flavour thresholds
(docs/physics/constants.md §1.2).

da/d ln μ² = −β₀a² − β₁a³ − β₂a⁴ − β₃a⁵, a = α_s/(4π), starting from α_s⁽⁵⁾(m_Z) = 0.1180,
n_f switched 5→4 at m_b(m_b), 4→3 at m_c(m_c) and 5→6 at m_t, with continuous matching (the
three-loop matching jump is < 0.1 %, docs/physics/constants.md §1.2; the m_t threshold is our
addition for plasma temperatures above m_t).

Implementation: the RGE is integrated once (numpy, RK4, 4000 steps per decade) on a node grid
in ln μ that contains the thresholds; ``alpha_s`` is the piecewise cubic Hermite interpolant with
the exact β-function slopes at the nodes, so it is smooth and differentiable in μ and costs a few
flops under jit. Interpolation error < 1e-10 relative (tests compare with scipy ``solve_ivp``).

Validity: perturbative running is not trustworthy below ~1 GeV. Below ``MU_MIN`` = 1 GeV the
coupling is *frozen* at α_s(1 GeV) = 0.473 (a documented model choice,
docs/physics/conventions.md §8.11); above ``MU_MAX`` = 10⁶ GeV it is frozen at α_s(10⁶ GeV).
"""

import functools

import jax.numpy as jnp
import numpy as np

from bkdm.constants import ALPHA_S_MZ, M_BQ, M_C, M_T, M_Z, ZETA3

MU_MIN = 1.0
MU_MAX = 1.0e6


def beta_coefficients(nf):
    """(β₀, β₁, β₂, β₃) of the four-loop MS-bar β function in a = α_s/(4π)
    (docs/physics/constants.md §1.2)."""
    b0 = 11.0 - 2.0 * nf / 3.0
    b1 = 102.0 - 38.0 * nf / 3.0
    b2 = 2857.0 / 2.0 - 5033.0 * nf / 18.0 + 325.0 * nf**2 / 54.0
    b3 = (
        149753.0 / 6.0
        + 3564.0 * ZETA3
        - (1078361.0 / 162.0 + 6508.0 * ZETA3 / 27.0) * nf
        + (50065.0 / 162.0 + 6472.0 * ZETA3 / 81.0) * nf**2
        + 1093.0 * nf**3 / 729.0
    )
    return b0, b1, b2, b3


def _beta(a, nf):
    b0, b1, b2, b3 = beta_coefficients(nf)
    return -(a**2) * (b0 + a * (b1 + a * (b2 + a * b3)))


def _run_segment(a0, lnmu0, lnmu1, nf, n_nodes):
    """RK4 in ln μ² from lnmu0 to lnmu1; returns a at n_nodes equally spaced ln μ nodes."""
    nodes = np.linspace(lnmu0, lnmu1, n_nodes)
    out = np.empty(n_nodes)
    out[0] = a0
    sub = max(4, int(np.ceil(abs(lnmu1 - lnmu0) / np.log(10.0) * 4000 / max(n_nodes - 1, 1))))
    a = a0
    for i in range(1, n_nodes):
        h = 2.0 * (nodes[i] - nodes[i - 1]) / sub  # step in ln μ²
        for _ in range(sub):
            k1 = _beta(a, nf)
            k2 = _beta(a + 0.5 * h * k1, nf)
            k3 = _beta(a + 0.5 * h * k2, nf)
            k4 = _beta(a + h * k3, nf)
            a = a + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6.0
        out[i] = a
    return nodes, out


@functools.lru_cache(maxsize=4)
def _table(alpha_s_mz=ALPHA_S_MZ, spacing=0.01):
    """Nodes (ln μ, α_s, right slope, left slope) from MU_MIN to MU_MAX; thresholds are nodes (numpy;
    cached as numpy so that a first call inside ``jit`` cannot leak a tracer).

    Slopes are dα_s/d ln μ from the β function with the n_f of the interval to the right (left)
    of each node, so the Hermite interpolant is exact to O(h⁴) on each side of a threshold.
    """
    lz, lb, lc, lt = np.log(M_Z), np.log(M_BQ), np.log(M_C), np.log(M_T)
    lmin, lmax = np.log(MU_MIN), np.log(MU_MAX)

    def n(l0, l1):
        return max(2, int(np.ceil(abs(l1 - l0) / spacing)) + 1)

    # (ln μ nodes, a values, n_f) per segment, each running away from m_Z
    segs = []
    x, a = _run_segment(alpha_s_mz / (4 * np.pi), lz, lb, 5, n(lz, lb))
    segs.append((x, a, 5))
    x, a = _run_segment(a[-1], lb, lc, 4, n(lb, lc))
    segs.append((x, a, 4))
    x, a = _run_segment(a[-1], lc, lmin, 3, n(lc, lmin))
    segs.append((x, a, 3))
    x, a = _run_segment(alpha_s_mz / (4 * np.pi), lz, lt, 5, n(lz, lt))
    segs.append((x, a, 5))
    x, a = _run_segment(a[-1], lt, lmax, 6, n(lt, lmax))
    segs.append((x, a, 6))
    nodes = {}  # ln μ -> [a, slope_left, slope_right]
    for x, a, nf in segs:
        lo, hi = min(x[0], x[-1]), max(x[0], x[-1])
        for xi, ai in zip(x, a, strict=True):
            key = round(float(xi), 12)
            entry = nodes.setdefault(key, [ai, None, None])
            slope = 2.0 * _beta(ai, nf)
            if xi > lo or lo == hi:
                entry[1] = slope  # this segment lies to the left of the node
            if xi < hi:
                entry[2] = slope  # ... to the right
    keys = sorted(nodes)
    a_k = np.array([nodes[k][0] for k in keys])
    sl = np.array([nodes[k][1] if nodes[k][1] is not None else nodes[k][2] for k in keys])
    sr = np.array([nodes[k][2] if nodes[k][2] is not None else nodes[k][1] for k in keys])
    four_pi = 4.0 * np.pi
    return np.array(keys), four_pi * a_k, four_pi * sr, four_pi * sl


def alpha_s(mu, alpha_s_mz=ALPHA_S_MZ):
    """α_s(μ) in the MS-bar scheme, four-loop running (docs/physics/constants.md §1.2). μ in GeV.

    Frozen below MU_MIN = 1 GeV and above MU_MAX = 10⁶ GeV. Differentiable in μ (piecewise cubic
    Hermite with exact β-function slopes). ``alpha_s_mz`` must be a Python float (the running is
    tabulated once per value).
    """
    x, y, s_right, s_left = (jnp.asarray(a) for a in _table(float(alpha_s_mz)))
    lnmu = jnp.clip(jnp.log(jnp.asarray(mu, dtype=jnp.float64)), x[0], x[-1])
    i = jnp.clip(jnp.searchsorted(x, lnmu, side="right") - 1, 0, x.shape[0] - 2)
    x0, x1 = x[i], x[i + 1]
    h = x1 - x0
    t = (lnmu - x0) / h
    m0 = s_right[i] * h
    m1 = s_left[i + 1] * h
    t2 = t * t
    t3 = t2 * t
    return ((2 * t3 - 3 * t2 + 1) * y[i] + (t3 - 2 * t2 + t) * m0 + (-2 * t3 + 3 * t2) * y[i + 1]
            + (t3 - t2) * m1)


def n_light_quarks(m_a):
    """Number of quarks with 2 m_q < m_a among u, d, s, c, b (for the NLO factor of [C] (14))."""
    from bkdm.constants import QUARK_MASSES

    return sum(jnp.where(m_a > 2.0 * m, 1, 0) for m in QUARK_MASSES[:5])
