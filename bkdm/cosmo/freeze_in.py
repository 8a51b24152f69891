"""Freeze-in of dark matter from the decays of a mediator kept (or not) in equilibrium with the plasma:
the coupled Boltzmann equations of [C] (27)–(28) (SPEC §3.5), generic in the mediator's production.

With Y_a = n_a/s, Y_χ = n_{χ+χ̄}/s, q = Y_χ/Y_χ^eq and u = ln x, x = m_a/T:

    dY_a/du = (1/H̃) [ (Γ_prod + ⟨Γ_a→SM⟩) (Y_a^eq − Y_a) − ⟨Γ_a→χχ̄⟩ (Y_a − Y_a^eq q²) ]
    dY_χ/du = (2/H̃) ⟨Γ_a→χχ̄⟩ (Y_a − Y_a^eq q²)

where Γ_prod = P/n_a^eq is the production rate density P of the mediator by SM processes (decays
and scatterings of [C] (27): ⟨Γ_{q_i→q_j a}⟩ n_{q_i}^eq + Σ n₁n₂⟨σv⟩) per equilibrium mediator —
(27) rewritten with P/s = Γ_prod Y_a^eq; ⟨Γ⟩ = Γ K₁/K₂ ([C] (24)); H̃ of [D] (4.10).

Numerics: the yields themselves are the variables (Y_a starts at 0, so no logarithm; they are
scaled to O(1): Y_a by its relativistic equilibrium value, Y_χ by the analytic freeze-in estimate
of SPEC §3.7), integrated in u = ln x from T_start to x_end with the stiff solver policy of
:mod:`bkdm.cosmo.solver`. ln Γ_prod(u) is tabulated once per parameter point (Chebyshev, 64 nodes)
because the scattering averages are 1-D integrals; an optional analytic ``window(T, params)``
multiplies the production (the ALP model uses it to switch partonic processes off below the QCD
transition). x_end covers the mediator's decay: max(60, 30 x_dec) with H(T_dec) = Γ_a.

Saved histories (``history`` > 0, for plots): the solver controls each variable to ``atol`` +
``rtol``·|y|, so Y_a is accurate to atol × Y_a^eq(T_start) ≈ 2.6×10⁻⁹ (g_a = 1, atol = 10⁻⁶) in
absolute terms — enough for Y_χ, whose source ∝ Γ Y_a is negligible once Y_a is that small, but
after the mediator's decay (x ≳ 20 at [C]'s benchmark) Y_a falls to 10⁻¹⁰…10⁻³⁰ and its saved
values there are unresolved digits (negative or oscillating between the solver's steps). A history
solve therefore uses atol ≤ ``HISTORY_ATOL`` (10⁻¹⁶: Y_a resolved to ~3×10⁻¹⁹; the ALP benchmark
takes 551 instead of 87 steps, and its Ωh² moves by 1e-6, within the default solve's accuracy)
and reports that absolute resolution of the saved Y_a as ``yield_mediator_floor``: values below it
are not physics (``bkdm.plotting.relic_curves`` drops them).
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp

from bkdm.constants import M_PLANCK, OMEGA_H2_PER_MY
from bkdm.cosmo import solver as slv
from bkdm.cosmo import tables, thermo
from bkdm.cosmo.averages import decay_average

TANGENT_PANELS = 64  # collocation panels of the derivative (solver.integrate_to_end)
HISTORY_ATOL = 1e-16  # largest atol of a solve with a saved history (module docstring)


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
    """Freeze-in estimate for decays of an equilibrium mediator (Hall et al. 0911.1120; SPEC §3.7):
    Y_{χ+χ̄} ≈ 2·135 g_a/(8π³·1.66 g_*s √g_*) m_Pl Γ(a→χχ̄)/m_a², g_* at T = m_a/3."""
    T = m_med / 3.0
    return (2.0 * 135.0 * g_med / (8.0 * jnp.pi**3 * 1.66 * thermo.g_star_s(T) * jnp.sqrt(thermo.g_star(T)))
            * M_PLANCK * width_dm / m_med**2)


def _rhs(u, y, args):
    (m_a, g_a, m_x, g_x, width_sm, width_dm, table, window, params, scale_a, scale_x) = args
    x = jnp.exp(u)
    T = m_a / x
    h = thermo.hubble_tilde(T)
    ya_eq = thermo.yield_eq(m_a, g_a, T) / scale_a
    log_yx_eq = thermo.log_yield_eq(m_x, g_x, T)
    ya, yx = y[0], y[1]
    # q = Y_χ/Y_χ^eq is linear in Y_χ (exponent clipped: Y_χ^eq may underflow long after freeze-in)
    q2 = (yx * jnp.exp(jnp.minimum(jnp.log(scale_x) - log_yx_eq, 300.0))) ** 2
    prod = jnp.exp(table(u)) * window(T, params)
    g_sm = decay_average(width_sm, m_a, T)
    g_dm = decay_average(width_dm, m_a, T)
    inverse = ya - ya_eq * q2
    d_a = ((prod + g_sm) * (ya_eq - ya) - g_dm * inverse) / h
    d_x = 2.0 * g_dm * inverse * scale_a / scale_x / h
    return jnp.stack([d_a, d_x])


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
    window = window if window is not None else (lambda T, p: 1.0)
    width_total = width_sm + width_dm
    x0 = m_med / t_start
    x1 = _x_end(m_med, width_total)
    u0, u1 = jnp.log(x0), jnp.log(x1)
    table = tables.tabulate(
        lambda u: jnp.maximum(log_production_rate(m_med * jnp.exp(-u), params), -690.0),
        u0, u1, table_nodes)
    scale_a = thermo.yield_eq(0.0, g_med, t_start)  # relativistic Y_a^eq at T_start
    estimate = analytic_yield(m_med, g_med, width_dm)
    scale_x = jnp.where(estimate > 0.0, estimate, 1.0)
    args = (m_med, g_med, m_dm, g_dm, width_sm, width_dm, table, window, params, scale_a, scale_x)
    if initial == "zero":
        ya0 = 0.0
    elif initial == "equilibrium":
        ya0 = thermo.yield_eq(m_med, g_med, t_start) / scale_a
    else:
        raise ValueError(f"initial = {initial!r} is not allowed: choose 'zero' or 'equilibrium'")
    y0 = jnp.stack([jnp.asarray(ya0, dtype=jnp.float64) + 0.0 * x0, 0.0 * x0])
    ts = u0 + (u1 - u0) * jnp.linspace(0.0, 1.0, history) if history else None
    if history:
        settings = dataclasses.replace(settings, atol=min(settings.atol, HISTORY_ATOL))
    end, ys = slv.integrate_with_history(_rhs, u0, u1, y0, args, settings, ts, TANGENT_PANELS)
    ok = end.status == 0
    y_dm = jnp.where(ok, end.y1[1] * scale_x, jnp.nan)
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
        xs = jnp.exp(ts)
        out["x_history"] = xs
        out["yield_mediator_history"] = ys[:, 0] * scale_a
        out["yield_dm_history"] = ys[:, 1] * scale_x
        out["yield_mediator_eq_history"] = thermo.yield_eq(m_med, g_med, m_med / xs)
        out["yield_mediator_floor"] = settings.atol * scale_a
    return FreezeInResult(**out)
