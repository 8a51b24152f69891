"""Standard freeze-out: the number-density Boltzmann equation (NBE) (docs/physics/dark-photon.md §4.5,
docs/physics/resonant-alp.md §5.6; [C] (48)–(49), [D] "NBE", Gondolo & Gelmini 1991).

    dY/dx = −(s⟨σv⟩/(x H̃)) (Y² − Y_eq²),   x = m/T,   Ωh² = 2.7439e8 (m/GeV) Y_∞.

Numerics (docs/physics/numerics.md §10.1, §10.3; measured in benchmarks/relic.py):

* variable D = ln(Y/Y_eq), so that dD/dx = −a (e^D − e^{−D}) + b with a = λ Y_eq, λ = s⟨σv⟩/(x H̃),
  b = −d ln Y_eq/dx = K₁/K₂ − (1/x) d ln g_*s/d ln T — no Y² − Y_eq² cancellation, and a start
  near equilibrium is well conditioned;
* start from the quasi-static solution D_qs = asinh(b/2a) − D_qs'/(2a cosh D_qs) where D_qs first
  exceeds ``start_deviation`` (located on log grids, see ``_crossings``; default 0.05; the omitted
  transient is damped by exp(−∫2a dx) — starting at 0.05 changes Ωh² by < 1e-8, tested);
* integrate with :mod:`bkdm.cosmo.solver` up to x_e = x_f + ``end_offset`` (x_f: where D_qs = 1),
  where Y_eq/Y < e^{−30}; beyond it the equation is exactly d(1/Y)/dx = λ(x), so
  1/Y_∞ = 1/Y(x_e) + ∫_{x_e}^∞ λ dx, done by panel Gauss–Legendre quadrature in v = ln(x/x_e)
  (``_tail_integral``; the "stop at x ~ 10³" prescription of the papers leaves out ~x_f/10³ ≈ 2 % for s-wave).

The thermal average is a static callable ``sigma_v(T, params)`` → ⟨σv⟩ [GeV⁻²] with ``params`` a
pytree (model parameters), so the whole solve is one jittable, vmappable, differentiable function of
``params``. Identical-particle conventions: Y counts all DM states and ⟨σv⟩ is the standard
(Gondolo–Gelmini) average, as in docs/physics/resonant-alp.md §5.6 (Majorana) — for a Dirac pair see the
model docstrings.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial.legendre import leggauss

from bkdm.constants import OMEGA_H2_PER_MY
from bkdm.cosmo import solver as slv
from bkdm.cosmo import tables, thermo
from bkdm.special import bessel_k1_over_k2

_COARSE = np.geomspace(1.0, 3.0e3, 24)  # x grid bracketing the start and freeze-out (ratio 1.42)
_FINE = np.linspace(0.0, 1.0, 9)  # refinement inside the bracketing coarse interval (ratio 1.044)

# Tail quadrature in v = ln(x/x_e) ∈ [0, 30] (beyond, λx ∝ e^{−v} or faster leaves < 1e-13): Gauss–
# Legendre on geometric panels, dense where the integrand (∝ e^{−v} or faster) is large.
_TAIL_V_MAX = 30.0
_TAIL_EDGES = np.array([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0])
_TAIL_PANEL_NODES = 32  # per panel: resolves the QCD step of g_*(T) (width 0.16 in ln T)
_TAIL_SIGMA_V_NODES = 8  # per panel, rule "interpolated": Chebyshev nodes of ln⟨σv⟩
TAIL_RULES = ("direct", "interpolated")
TANGENT_PANELS = 32  # collocation panels of the derivative (solver.integrate_to_end)
X_FREEZE_OUT_MIN = 3.0  # below, freeze-out is relativistic and this NBE does not apply (status ≠ 0)


def _tail_rule():
    """Nodes/weights of the panel rule on [0, 30]; Chebyshev nodes of ln⟨σv⟩ per panel and the
    (panel-local, identical for every panel) Lagrange matrix from them to the Gauss–Legendre nodes."""
    t, w = leggauss(_TAIL_PANEL_NODES)
    c = np.cos(np.pi * (np.arange(_TAIL_SIGMA_V_NODES) + 0.5) / _TAIL_SIGMA_V_NODES)
    lo, hi = _TAIL_EDGES[:-1, None], _TAIL_EDGES[1:, None]
    nodes = (0.5 * (lo + hi) + 0.5 * (hi - lo) * t).ravel()
    weights = (0.5 * (hi - lo) * w).ravel()
    cheb = 0.5 * (lo + hi) + 0.5 * (hi - lo) * c  # (panels, n_G)
    bary = 1.0 / np.prod(c[:, None] - c[None, :] + np.eye(c.size), axis=1)  # barycentric weights
    diff = t[:, None] - c[None, :]
    lagrange = (bary / diff) / np.sum(bary / diff, axis=1, keepdims=True)  # (n_F, n_G)
    return nodes, weights, cheb, lagrange


_TAIL_V, _TAIL_W, _TAIL_V_SIGMA_V, _TAIL_LAGRANGE = _tail_rule()


class FreezeOutResult(eqx.Module):
    """Result of :func:`solve`: Ωh², Y_∞ and diagnostics (arrays; batched under vmap).

    ``status`` is 0 on success (otherwise a diffrax result code, or
    ``solver.STATUS_RELATIVISTIC_FREEZE_OUT`` when x_f < 3; see ``solver.result_message``);
    ``x_history``/``yield_history`` hold Y(x) on a log grid from x_start to x_end when requested.
    """

    omega_h2: jax.Array
    yield_today: jax.Array
    x_freeze_out: jax.Array
    x_start: jax.Array
    x_end: jax.Array
    yield_end: jax.Array
    tail_fraction: jax.Array
    num_steps: jax.Array
    status: jax.Array
    x_history: jax.Array | None = None
    yield_history: jax.Array | None = None


def log_rate(x, m, sigma_v, params):
    """ln λ(x), λ = s(T)⟨σv⟩(T)/(x H̃(T)) at T = m/x (the rate of d(1/Y)/dx;
    docs/physics/resonant-alp.md §5.6)."""
    T = m / x
    return _log_dilution(x, T) + jnp.log(sigma_v(T, params))


def _log_dilution(x, T):
    """ln[s(T)/(x H̃(T))]: λ without ⟨σv⟩ (docs/physics/resonant-alp.md §5.6)."""
    return thermo.log_entropy_density(T) - jnp.log(x) - thermo.log_hubble_tilde(T)


def _b(x, m):
    """b = −d ln Y_eq/dx = K₁/K₂(x) − (1/x) d ln g_*s/d ln T (Maxwell–Boltzmann Y_eq,
    docs/physics/alp-freeze-in.md §3.6)."""
    return bessel_k1_over_k2(x) - thermo.dln_g_star_s_dln_T(m / x) / x


def _asinh_half_ratio(b, log_a):
    """asinh(b/(2a)) with a = exp(log_a), without overflow when a underflows (|b|/a ≫ 1)."""
    v = jnp.log(jnp.abs(b) / 2.0) - log_a
    big = v > 0.0
    vb = jnp.where(big, v, 0.0)
    vs = jnp.where(big, 0.0, v)
    mag = jnp.where(big, vb + jnp.log1p(jnp.sqrt(1.0 + jnp.exp(-2.0 * vb))), jnp.arcsinh(jnp.exp(vs)))
    return jnp.sign(b) * mag


def _rhs(x, d, args):
    m, g, table = args
    log_a = table(jnp.log(x)) + thermo.log_yield_eq(m, g, m / x)
    # −a(e^D − e^{−D}) + b, each exponential formed in log space (a can underflow, D can be ~10²)
    return -jnp.exp(log_a + d) + jnp.exp(log_a - d) + _b(x, m)


def _log_a(x, m, g, log_sigma_v):
    """ln a = ln λ + ln Y_eq at x, given ln⟨σv⟩ at T = m/x."""
    T = m / x
    return _log_dilution(x, T) + log_sigma_v + thermo.log_yield_eq(m, g, T)


def _dqs(x, m, g, log_sigma_v):
    """D_qs = asinh(b/2a) at x, given ln⟨σv⟩ at T = m/x."""
    return _asinh_half_ratio(_b(x, m), _log_a(x, m, g, log_sigma_v))


def quasi_static_deviation(x, m, g, sigma_v, params):
    """D_qs(x) = asinh(b/2a): ln(Y/Y_eq) when annihilation balances the dilution of Y_eq."""
    return _dqs(x, m, g, jnp.log(sigma_v(m / x, params)))


def _crossings(sigma_v, params, m, g, levels):
    """For each level, the x where D_qs(x) first exceeds it: D_qs on a coarse log grid (24 points,
    ⟨σv⟩ evaluated there), then on a 9-point fine grid inside each bracketing interval (ln⟨σv⟩
    interpolated linearly in ln x between the two coarse points: only the location of the start and
    of x_f depends on it, not their D), then linear interpolation of D_qs in ln x between the two
    fine points around the crossing; the grid's first point if D_qs > level already at x = 1, its
    last if never."""
    coarse = jnp.asarray(_COARSE)
    log_sv = jnp.log(sigma_v(m / coarse, params))
    d_coarse = _dqs(coarse, m, g, log_sv)
    out = []
    for level in levels:
        above = d_coarse > level
        i = jnp.argmax(above)
        i0, i1 = jnp.maximum(i - 1, 0), jnp.maximum(i, 1)
        fine = coarse[i0] * (coarse[i1] / coarse[i0]) ** jnp.asarray(_FINE)
        log_sv_fine = log_sv[i0] + (log_sv[i1] - log_sv[i0]) * jnp.asarray(_FINE)
        d_fine = _dqs(fine, m, g, log_sv_fine)
        j = jnp.clip(jnp.argmax(d_fine > level), 1, _FINE.size - 1)
        d_lo, d_hi = d_fine[j - 1], d_fine[j]
        rise = d_hi - d_lo
        frac = jnp.clip((level - d_lo) / jnp.where(rise > 0, rise, 1.0), 0.0, 1.0)
        x = fine[j - 1] * (fine[j] / fine[j - 1]) ** frac
        out.append(jnp.where(above[0], coarse[0], jnp.where(above.any(), x, coarse[-1])))
    return out


def _tail_integral(x_e, m, sigma_v, params, x_final=None, rule="direct"):
    """∫_{x_e}^{x_final} λ(x) dx = ∫_0^V λ(x_e e^v) x_e e^v dv, V = min(30, ln(x_final/x_e)) (x_final =
    None: ∞, truncated at V = 30), by Gauss–Legendre on the panels ``_TAIL_EDGES``·V/30 (6 × 32
    nodes; the panels are short where λx, ∝ e^{−v} (s-wave) or faster, is large).

    rule "direct": ⟨σv⟩ at every node. "interpolated": ln⟨σv⟩ at 8 Chebyshev nodes per panel,
    Lagrange-interpolated to the 32 Gauss nodes, while the s/H̃ factor, with the narrow steps of
    g_*(T), stays exact at every node — for ⟨σv⟩ smooth in ln x over each panel, i.e. without an
    s-channel resonance whose thermal peak gives way to the background inside the tail. Measured
    against adaptive scipy quad (s/p-wave and the dark-photon ⟨σv⟩, m = 0.05–1000 GeV, x_e = 45–80):
    interpolation error ≤ 1e-12, total ≤ 1e-6 (from the g_* steps, same as "direct"); the resonant
    ALP ⟨σv⟩ (r = 0.45) errs by 7e-4 interpolated — use "direct" there.
    """
    scale = 1.0 if x_final is None else jnp.clip(jnp.log(x_final / x_e), 0.0, _TAIL_V_MAX) / _TAIL_V_MAX
    x = x_e * jnp.exp(jnp.asarray(_TAIL_V) * scale)
    if rule == "interpolated":
        x_sv = x_e * jnp.exp(jnp.asarray(_TAIL_V_SIGMA_V) * scale)  # (panels, n_G)
        log_sv = jnp.log(sigma_v(m / x_sv, params))
        log_sv = jnp.einsum("fg,pg->pf", jnp.asarray(_TAIL_LAGRANGE), log_sv).reshape(x.shape)
    else:
        log_sv = jnp.log(sigma_v(m / x, params))
    f = jnp.exp(_log_dilution(x, m / x) + log_sv + jnp.log(x))
    return scale * jnp.sum(jnp.asarray(_TAIL_W) * f)


def validity_status(x_f, solver_status):
    """The solve's status, or ``solver.STATUS_RELATIVISTIC_FREEZE_OUT`` where the freeze-out estimate
    x_f < 3: the particle decouples while relativistic, where the non-relativistic equations (this NBE
    and the cBE of kinetic decoupling) give a wrong number — e.g. an s-wave with ⟨σv⟩ = 1e-18 GeV⁻² at
    m = 1 GeV "succeeded" with x_f = 1.1, and a 100× smaller ⟨σv⟩ gave a 100× smaller Ωh²."""
    return jnp.where(x_f < X_FREEZE_OUT_MIN, slv.STATUS_RELATIVISTIC_FREEZE_OUT, solver_status)


def start_point(sigma_v, params, m, g, start_deviation=0.05):
    """(x_start, D_start, x_f): first x where D_qs > ``start_deviation``, the first-order quasi-static
    D there, and the freeze-out estimate x_f (D_qs = 1)."""
    x0, x_f = _crossings(sigma_v, params, m, g, (start_deviation, 1.0))
    d_qs, d_qs_prime = jax.jvp(lambda t: quasi_static_deviation(t, m, g, sigma_v, params), (x0,),
                               (jnp.ones_like(x0),))
    log_a0 = _log_a(x0, m, g, jnp.log(sigma_v(m / x0, params)))
    return x0, d_qs - d_qs_prime / (2.0 * jnp.exp(log_a0) * jnp.cosh(d_qs)), x_f


def solve(sigma_v, params, m, g, settings=slv.DEFAULT, start_deviation=0.05, end_offset=40.0,
          history=0, table_nodes=32, x_final=None, tail="direct"):
    """Solve the NBE for a particle of mass ``m`` [GeV] with ``g`` internal states and thermal
    average ``sigma_v(T, params)`` [GeV⁻²]. Pure and jittable; returns a :class:`FreezeOutResult`.

    ``history``: number of saved points of Y(x) between x_start and x_end (0 = none; static).
    ``x_final``: stop the evolution there (None: x → ∞, the relic value); used to compare with
    systems integrated to a fixed x (the coupled system of kinetic decoupling, [D]).
    ``table_nodes``: ln λ is tabulated on [x_start, x_end] with this many Chebyshev nodes in ln x
    and interpolated inside the right-hand side (the quadrature in ⟨σv⟩ then runs once per node,
    not once per stage; 32 nodes reproduce the direct evaluation to < 1e-9, tested).
    ``tail``: quadrature rule of the tail beyond x_e (static; see ``_tail_integral``): "direct"
    (any ⟨σv⟩) or "interpolated" (3× cheaper, for ⟨σv⟩ without an s-channel resonance).
    """
    if tail not in TAIL_RULES:
        raise ValueError(f"tail = {tail!r} is not allowed: choose one of {TAIL_RULES}")
    # The start (x0, D0) and x_f carry no derivative: they place the integration range, on which Ωh²
    # does not depend (a change of D0 is damped by exp(−∫2a dx) ~ e^−20; of x0: < 1e-8, tested; of
    # x_e = x_f + offset: ODE traded against tail), and their tangents cost forward passes through the
    # ~25 ⟨σv⟩ evaluations of the search and a second-order one for D0's quasi-static correction.
    sg = jax.lax.stop_gradient
    x0, d0, x_f = start_point(sigma_v, sg(params), sg(m), g, start_deviation)
    x_e = jnp.maximum(x_f + end_offset, 1.5 * x0)
    if x_final is not None:
        x_e = jnp.minimum(x_e, x_final)
    ts = x0 * (x_e / x0) ** jnp.linspace(0.0, 1.0, history) if history else None
    table = tables.tabulate(lambda u: log_rate(jnp.exp(u), m, sigma_v, params),
                            jnp.log(x0), jnp.log(x_e), table_nodes)
    end, ys = slv.integrate_with_history(_rhs, x0, x_e, d0, (m, g, table), settings, ts, TANGENT_PANELS)
    status = validity_status(x_f, end.status)
    ok = status == 0
    d_end = end.y1
    y_end = jnp.exp(thermo.log_yield_eq(m, g, m / x_e) + d_end)
    tail = _tail_integral(x_e, m, sigma_v, params, x_final, rule=tail)
    y_today = y_end / (1.0 + y_end * tail)
    nan = jnp.nan
    y_today = jnp.where(ok, y_today, nan)
    out = dict(
        omega_h2=OMEGA_H2_PER_MY * m * y_today,
        yield_today=y_today,
        x_freeze_out=x_f,
        x_start=x0,
        x_end=x_e,
        yield_end=y_end,
        tail_fraction=y_end * tail / (1.0 + y_end * tail),
        num_steps=end.num_steps,
        status=status,
    )
    if history:
        out["x_history"] = ts
        out["yield_history"] = jnp.exp(thermo.log_yield_eq(m, g, m / ts) + ys)
    return FreezeOutResult(**out)
