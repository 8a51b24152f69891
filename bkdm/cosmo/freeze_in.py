"""Freeze-in of dark matter from the decays of a mediator kept (or not) in equilibrium with the plasma:
the coupled Boltzmann equations of [C] (27)–(28) (docs/physics/alp-freeze-in.md §3.5),
generic in the mediator's production.

With Y_a = n_a/s, Y_χ = n_{χ+χ̄}/s, q = Y_χ/Y_χ^eq and u = ln x, x = m_a/T:

    dY_a/du = (1/H̃) [ (Γ_prod + ⟨Γ_a→SM⟩) (Y_a^eq − Y_a) − ⟨Γ_a→χχ̄⟩ (Y_a − Y_a^eq q²) ]
    dY_χ/du = (2/H̃) ⟨Γ_a→χχ̄⟩ (Y_a − Y_a^eq q²)

where Γ_prod = P/n_a^eq is the production rate density P of the mediator by SM processes (decays
and scatterings of [C] (27): ⟨Γ_{q_i→q_j a}⟩ n_{q_i}^eq + Σ n₁n₂⟨σv⟩) per equilibrium mediator —
(27) rewritten with P/s = Γ_prod Y_a^eq; ⟨Γ⟩ = Γ K₁/K₂ ([C] (24)); H̃ of [D] (4.10).

Numerics: the variables are logarithms, L_a = ln[Y_a/(Y_a^rel ρ_a(v))] and L_χ = ln[Y_χ/(Y_χ^rel ρ_χ(v))]
(Y^rel: the relativistic equilibrium yields at T_start; v = ln(T_start/T)), so the yields stay positive
and ``atol`` is a relative accuracy on them, as for the freeze-out systems. With linear yields the
absolute tolerance was a fraction of the *peak* yield: where χ thermalises and is then depleted by
inverse decays (large couplings, m_χ → m_a/2) the final Y_χ lay far below it, the solver's overshoot
made Y_χ negative and the −Y_a^eq q² term then drove it to −∞ (Ωh² = −2376 at m_a = 0.197 GeV,
f_a = 1334 GeV, m_χ/m_a = 0.49999, status 0; now 0.0109821, a scipy Radau solve in plain yields from
equilibrium at x = 0.05 gives 0.0109821127). Every right-hand-side term is formed as exp(sum of
logarithms), the exponent clipped at 250.

Y = 0 at T_start (``initial="zero"``, [C]) has no logarithm. The equations with their coefficients
frozen at T_start have the exact solution Y_a = Y_a^∞ ρ_a(v), ρ_a = 1 − e^{−kv}, and
Y_χ = (2⟨Γ_a→χχ̄⟩/H̃) Y_a^∞ ψ(v), ψ = ∫₀^v ρ_a = [kv − 1 + e^{−kv}]/k, with k = (Γ_prod + ⟨Γ_a→SM⟩ +
⟨Γ_a→χχ̄⟩)/H̃ and Y_a^∞ = Y_a^eq (Γ_prod + ⟨Γ_a→SM⟩)/(k H̃): Y_a ∝ v and Y_χ ∝ v² at first, whose
logarithms vary like ln v and would cost the solver ~20 steps per decade of v. The reference profiles
ρ_a(v) and ρ_χ(v) = ψ/(ψ + ψ_s) take this out (ψ_s ≤ 1: the ψ at which χ would reach its quasi-static
value Y_χ^eq (Y_a/Y_a^eq)^{1/2}, so ρ_χ saturates when χ equilibrates), leaving L_a, L_χ smooth from
the start; the solve starts at v = δ = 10⁻⁶ from the frozen-coefficient solution (its O(δ) error
concerns the first δ of the evolution only). ``initial="equilibrium"``: ρ_a ≡ 1, ψ = v. Without a
dark-matter coupling (Γ(a → χχ̄) = 0) no χ is produced: Ωh² = 0 exactly (status 0).

Integration in v = ln(T_start/T) = u − u_0 from δ to ln(x_end/x_start) with the stiff solver policy of
:mod:`bkdm.cosmo.solver`.
ln Γ_prod(u) is tabulated once per parameter point (Chebyshev, 64 nodes) because the scattering
averages are 1-D integrals; an optional analytic ``window(T, params)`` multiplies the production
(the ALP model uses it to switch partonic processes off below the QCD transition). x_end covers the
mediator's decay: max(60, 30 x_dec) with H(T_dec) = Γ_a.

Saved histories (``history`` > 0, for plots): the saved yields are exponentials of the solved
logarithms, so they keep ``rtol``/``atol`` as a *relative* accuracy down to any size (with the linear
yields of bkdm ≤ 2026-12 the saved Y_a was unresolved below atol × Y_a^eq(T_start) and needed a tighter
atol); ``yield_mediator_floor`` (the absolute resolution of the saved Y_a, used by
``bkdm.plotting.relic_curves``) is therefore 0.
"""

import equinox as eqx
import jax
import jax.numpy as jnp

from bkdm.constants import M_PLANCK, OMEGA_H2_PER_MY
from bkdm.cosmo import solver as slv
from bkdm.cosmo import tables, thermo
from bkdm.cosmo.averages import decay_average

TANGENT_PANELS = 128  # collocation panels of the derivative (solver.integrate_to_end): d Ωh²/d m_a at
# m_a = 4.3 GeV, f_a = 2e9 GeV within 2e-5 of a finite difference of tight solves (64 panels: 1.3e-4)


class FreezeInResult(eqx.Module):
    """Result of :func:`solve` (arrays; batched under vmap). ``status`` 0 = success."""

    omega_h2: jax.Array
    yield_dm: jax.Array
    yield_estimate: jax.Array
    x_start: jax.Array
    x_end: jax.Array
    num_steps: jax.Array
    status: jax.Array
    x_history: jax.Array | None = None
    yield_mediator_history: jax.Array | None = None
    yield_dm_history: jax.Array | None = None
    yield_mediator_eq_history: jax.Array | None = None
    yield_mediator_floor: jax.Array | None = None  # absolute accuracy of the saved Y_a (module docstring)


def analytic_yield(m_med, g_med, width_dm):
    """Freeze-in estimate for decays of an equilibrium mediator (Hall et al. 0911.1120;
    docs/physics/alp-freeze-in.md §3.7): Y_{χ+χ̄} ≈ 2·135 g_a/(8π³·1.66 g_*s √g_*) m_Pl Γ(a→χχ̄)/m_a²,
    g_* at T = m_a/3."""
    T = m_med / 3.0
    return (2.0 * 135.0 * g_med / (8.0 * jnp.pi**3 * 1.66 * thermo.g_star_s(T) * jnp.sqrt(thermo.g_star(T)))
            * M_PLANCK * width_dm / m_med**2)


_LOG_CLIP = 250.0  # exponents of the right-hand side are clipped here: a wild trial step of the Newton
# iteration then gives large finite numbers, never inf (whose 0·inf would be NaN in reverse mode)
START_OFFSET = 1e-6  # δ: the solve starts at v = δ (module docstring)
_NO_DM_WIDTH = 1e-60  # GeV: Γ(a → χχ̄) solved with where it is 0 (solve)
_EQUILIBRIUM_GROWTH = 1e300  # k of a mediator that starts in equilibrium (ρ_a ≡ 1, ψ(v) = v)


def _exp(log_value):
    return jnp.exp(jnp.minimum(log_value, _LOG_CLIP))


def _rates(u, args):
    """ln of (H̃, Y_a^eq, Y_χ^eq) and the rates (Γ_prod, ⟨Γ_a→SM⟩, ⟨Γ_a→χχ̄⟩) [GeV] at u = ln x."""
    (m_a, g_a, m_x, g_x, width_sm, width_dm, table, window, params) = args[:9]
    T = m_a * jnp.exp(-u)
    logs = (thermo.log_hubble_tilde(T), thermo.log_yield_eq(m_a, g_a, T), thermo.log_yield_eq(m_x, g_x, T))
    rates = (jnp.exp(table(u)) * window(T, params), decay_average(width_sm, m_a, T),
             decay_average(width_dm, m_a, T))
    return logs, rates


def _phi(z):
    """z − (1 − e^{−z}) ≥ 0 without cancellation (series below z = 10⁻³)."""
    zs = jnp.where(z < 1e-3, 1e-3, z)
    return jnp.where(z < 1e-3, z * z * (0.5 - z / 6.0 + z * z / 24.0), zs + jnp.expm1(-zs))


def _profiles(v, k, log_psi_s):
    """ln ρ_a, ln ρ_χ and their logarithmic derivatives ρ'/ρ at v (module docstring):
    ρ_a = 1 − e^{−kv}, ρ_χ = ψ/(ψ + ψ_s), ψ = ∫₀^v ρ_a = φ(kv)/k."""
    kv = k * v
    rho_a = -jnp.expm1(-kv)
    e = jnp.exp(-kv)
    psi = _phi(kv) / k
    psi_s = jnp.exp(log_psi_s)
    log_rho_x = jnp.log(psi) - jnp.log(psi + psi_s)
    return jnp.log(rho_a), log_rho_x, k * e / rho_a, rho_a * psi_s / (psi * (psi + psi_s))


def _rhs(v, y, args):
    """d(L_a, L_χ)/dv, L = ln(Y/(Y^rel ρ)), v = u − u_0 = ln(T_start/T) (module docstring)."""
    log_scale_a, log_scale_x, u0, k, log_psi_s = args[-5:]
    (log_h, log_ya_eq, log_yx_eq), (prod, g_sm, g_dm) = _rates(u0 + v, args)
    log_rho_a, log_rho_x, dlog_rho_a, dlog_rho_x = _profiles(v, k, log_psi_s)
    log_ya = y[0] + log_scale_a + log_rho_a
    log_yx = y[1] + log_scale_x + log_rho_x
    log_dm_rate = jnp.log(2.0 * g_dm) - log_h  # 2⟨Γ_a→χχ̄⟩/H̃
    inverse = _exp(log_ya_eq + 2.0 * (log_yx - log_yx_eq) - log_ya)  # Y_a^eq q²/Y_a
    d_a = ((prod + g_sm) * (_exp(log_ya_eq - log_ya) - 1.0) - g_dm * (1.0 - inverse)) * jnp.exp(-log_h)
    d_x = _exp(log_dm_rate + log_ya - log_yx) - _exp(log_dm_rate + log_ya_eq + log_yx - 2.0 * log_yx_eq)
    return jnp.stack([d_a - dlog_rho_a, d_x - dlog_rho_x])


def _start(u0, args, initial):
    """(ln Y_a, ln Y_χ) at v = δ from the frozen-coefficient solution, and the profile parameters
    (k, ln ψ_s) (module docstring)."""
    (log_h, log_ya_eq, log_yx_eq), (prod, g_sm, g_dm) = _rates(u0, args)
    h = jnp.exp(log_h)
    k = (prod + g_sm + g_dm) / h  # relaxation rate of Y_a per unit v
    log_ya_inf = log_ya_eq + jnp.log(jnp.maximum(prod + g_sm, 1e-300) / (prod + g_sm + g_dm))
    kd = k * START_OFFSET
    if initial == "zero":  # Y_a(δ) = Y_∞(1 − e^{−kδ}), ∫Y_a = Y_∞ φ(kδ)/k
        log_ya = log_ya_inf + jnp.log(-jnp.expm1(-kd))
        log_int = log_ya_inf + jnp.log(_phi(kd)) - jnp.log(k)
        log_slope = log_ya_inf  # ∫Y_a ≈ Y_∞ ψ
        growth = k
    else:  # Y_a(0) = Y_a^eq ≥ Y_∞: Y_a(δ) = Y_∞ + (Y_eq − Y_∞)e^{−kδ}, ∫Y_a ≥ Y_∞ δ
        ya_inf, ya_eq = jnp.exp(log_ya_inf), jnp.exp(log_ya_eq)
        log_ya = jnp.log(ya_inf + (ya_eq - ya_inf) * jnp.exp(-kd))
        log_int = jnp.log(ya_inf * START_OFFSET + (ya_eq - ya_inf) * (-jnp.expm1(-kd)) / k)
        log_slope = log_ya_eq
        growth = jnp.full_like(k, _EQUILIBRIUM_GROWTH)
    log_dm_rate = jnp.log(2.0 * g_dm) - log_h
    log_quasi_static = log_yx_eq + 0.5 * (log_ya - log_ya_eq)  # χ in equilibrium with the a's present
    log_yx = jnp.minimum(log_dm_rate + log_int, log_quasi_static)
    log_psi_s = jnp.minimum(0.0, log_quasi_static - log_dm_rate - log_slope)
    return log_ya, log_yx, growth, log_psi_s


def _x_end(m_a, width_total):
    """max(60, 30 x_dec) with H(T_dec) = Γ_a (radiation era, g_* ≈ 10.75 — only sets the range)."""
    t_dec = jnp.sqrt(width_total * M_PLANCK / (1.66 * jnp.sqrt(10.75)))
    return jnp.maximum(60.0, 30.0 * m_a / t_dec)


def solve(log_production_rate, params, m_med, g_med, m_dm, g_dm, width_sm, width_dm,
          settings=slv.DEFAULT, t_start=100.0, window=None, table_nodes=64, history=0,
          initial="zero"):
    """Solve [C] (27)–(28) for a mediator of mass ``m_med`` (g_med states) decaying to SM particles
    (``width_sm``) and to a DM pair (``width_dm``; DM of mass ``m_dm``, g_dm states counting χ and χ̄).

    ``log_production_rate(T, params)`` → ln Γ_prod(T) [ln GeV] (module docstring); ``window(T, params)``
    an optional analytic factor on it; ``t_start`` [GeV] the initial temperature, where Y_a = Y_χ = 0
    (``initial="zero"``, [C]) or Y_a = Y_a^eq (``"equilibrium"``). Masses and widths in GeV.
    Pure and jittable; returns :class:`FreezeInResult`. ``history``: saved points (static).
    """
    if initial not in ("zero", "equilibrium"):
        raise ValueError(f"initial = {initial!r} is not allowed: choose 'zero' or 'equilibrium'")
    window = window if window is not None else (lambda T, p: 1.0)
    width_total = width_sm + width_dm
    produced = width_dm > 0.0  # no χ without a DM coupling: Ωh² = 0 (module docstring)
    # a negligible stand-in (the χ it gives is discarded): ln Γ stays finite; a large one (1 GeV) made the
    # solve stiff enough to run out of steps at c_χ = 0
    width_dm = jnp.where(produced, width_dm, _NO_DM_WIDTH)
    x0 = m_med / t_start
    x1 = _x_end(m_med, width_total)
    u0, u1 = jnp.log(x0), jnp.log(x1)
    table = tables.tabulate(
        lambda u: jnp.maximum(log_production_rate(m_med * jnp.exp(-u), params), -690.0),
        u0, u1, table_nodes)
    log_scale_a = thermo.log_yield_eq(0.0, g_med, t_start)  # relativistic Y^eq at T_start
    log_scale_x = thermo.log_yield_eq(0.0, g_dm, t_start)
    estimate = analytic_yield(m_med, g_med, jnp.where(produced, width_dm, 0.0))
    args = (m_med, g_med, m_dm, g_dm, width_sm, width_dm, table, window, params, log_scale_a, log_scale_x, u0)
    log_ya0, log_yx0, k, log_psi_s = _start(u0, args, initial)
    args = (*args, k, log_psi_s)
    log_rho_a0, log_rho_x0, _, _ = _profiles(START_OFFSET, k, log_psi_s)
    y0 = jnp.stack([log_ya0 - log_scale_a - log_rho_a0, log_yx0 - log_scale_x - log_rho_x0])
    # time v = u − u0 = ln(T_start/T): the start v = δ does not move with m_a (with u = ln x it would, and
    # the tangent at the start, −(dL/du) du0 ~ 2/δ, would be a difference of large numbers)
    v1 = u1 - u0
    ts = START_OFFSET + (v1 - START_OFFSET) * jnp.linspace(0.0, 1.0, history) if history else None
    end, ys = slv.integrate_with_history(_rhs, START_OFFSET, v1, y0, args, settings, ts, TANGENT_PANELS)
    ok = end.status == 0
    log_rho_x1 = _profiles(v1, k, log_psi_s)[1]
    y_dm = jnp.where(produced, jnp.exp(end.y1[1] + log_scale_x + log_rho_x1), 0.0)
    y_dm = jnp.where(ok, y_dm, jnp.nan)
    out = dict(
        omega_h2=OMEGA_H2_PER_MY * m_dm * y_dm,
        yield_dm=y_dm,
        yield_estimate=estimate,
        x_start=x0,
        x_end=x1,
        num_steps=end.num_steps,
        status=end.status,
    )
    if history:
        xs = jnp.exp(u0 + ts)
        out["x_history"] = xs
        log_rho_a, log_rho_x, _, _ = _profiles(ts, k, log_psi_s)
        out["yield_mediator_history"] = jnp.exp(ys[:, 0] + log_scale_a + log_rho_a)
        out["yield_dm_history"] = jnp.where(produced, jnp.exp(ys[:, 1] + log_scale_x + log_rho_x), 0.0)
        out["yield_mediator_eq_history"] = thermo.yield_eq(m_med, g_med, m_med / xs)
        out["yield_mediator_floor"] = jnp.zeros_like(xs[0])  # relative accuracy only (module docstring)
    return FreezeInResult(**out)
