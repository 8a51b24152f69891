"""Freeze-out with early kinetic decoupling: the coupled Boltzmann equations (cBE) for the yield Y and
the DM "temperature" variable y of [D] (4.8)–(4.14) (docs/physics/resonant-alp.md §5.4; Binder,
Bringmann, Gustafsson, Hryczuk 1706.07433, 2103.01944 — the DRAKE system).

    Y'/Y = (sY/(xH̃)) [ (Y_eq/Y)² ⟨σv⟩_T − ⟨σv⟩_{T_χ} ]                                       (4.8)
    y'/y = ⟨C_el⟩₂/(xH̃) + (sY/(xH̃)) [⟨σv⟩_{T_χ} − ⟨σv⟩_{2,T_χ}]
           + (sY/(xH̃)) (Y_eq/Y)² [ (y_eq/y) ⟨σv⟩_{2,T} − ⟨σv⟩_T ] + 2(1 − w) H/(xH̃)          (4.9)

with x = m/T, T_χ = s^{2/3} y/m, y_eq = mT/s^{2/3} (4.7), ⟨C_el⟩₂ = γ(T)(y_eq/y − 1) (NR
Fokker–Planck, DRAKE default) or γ[(y_eq/y) A(T_χ) − w(T_χ)] (exact second moment,
docs/physics/resonant-alp.md §5.4), w = 1 − ⟨p⁴/E³⟩_{T_χ}/(6T_χ).

Variables: D = ln(Y/Y_eq) and Φ = ln(y/y_eq) = ln(T_χ/T), time u = ln x. The Φ equation is
y'/y − y_eq'/y_eq with y_eq'/y_eq = (1/x)[1 + (2/3) d ln g_*s/d ln T]. Both are quasi-static
(≈ 0) while annihilation and elastic scattering are fast; the start is the freeze-out start point of
:mod:`bkdm.cosmo.freeze_out` (moved earlier if needed so that γ ≥ 10³ H̃ there), located on the
tables, with Φ from one Newton step of its own equation.

The four annihilation averages are two functions of a temperature, ⟨σv⟩(T′) and ⟨σv⟩₂(T′),
evaluated at T′ = T and at T′ = T_χ; both are tabulated once per parameter point in ln(m/T′) as
:class:`~bkdm.cosmo.tables.HermiteTable` (local cubic, 160 nodes, slopes by fourth-order finite
differences) over a range that covers every T′ met from x = 1 on (x′ = m/T′ from 0.1 to 10 x_final²);
γ(T) over the bath range; w(T_χ) likewise. Evolution to ``x_final`` (default 10⁴, the range of [D]).
Table accuracy, Ωh² against 512 nodes with exact (forward-mode) slopes, PRECISE solver, r = m_χ/m_a
∈ [0.45, 0.51], g_aχχ = 1e-3–1e-2: ≤ 5e-6 (the former 128 nodes with exact slopes: ≤ 5e-6, at twice
the cost); far below resonance (r = 0.3, Ωh² ~ 4e4) 4e-4.
"""

import equinox as eqx
import jax
import jax.numpy as jnp

from bkdm.constants import OMEGA_H2_PER_MY
from bkdm.cosmo import averages, freeze_out, tables, thermo
from bkdm.cosmo import solver as slv

TANGENT_PANELS = 64  # collocation panels of the derivative (solver.integrate_to_end)


class KineticDecouplingResult(eqx.Module):
    """Result of :func:`solve` (arrays; batched under vmap). ``status`` 0 = success (else a diffrax
    result code, or ``solver.STATUS_RELATIVISTIC_FREEZE_OUT`` when chemical freeze-out is at x_f < 3)."""

    omega_h2: jax.Array
    yield_today: jax.Array
    x_start: jax.Array
    x_final: jax.Array
    temperature_ratio_final: jax.Array  # T_χ/T at x_final
    num_steps: jax.Array
    status: jax.Array
    x_history: jax.Array | None = None
    yield_history: jax.Array | None = None
    y_history: jax.Array | None = None
    yield_eq_history: jax.Array | None = None
    y_eq_history: jax.Array | None = None


def _rhs(u, state, args):
    m, g, log_sv, log_sv2, log_gamma, log_one_minus_w, elastic = args
    d, phi = state[0], state[1]
    x = jnp.exp(u)
    T = m / x
    t_chi = T * jnp.exp(phi)
    dlng = thermo.dln_g_star_s_dln_T(T)
    log_h = thermo.log_hubble_tilde(T)
    log_n = thermo.log_yield_eq(m, g, T) + thermo.log_entropy_density(T) - log_h  # n_eq/H̃
    u_chi = u - phi  # ln(m/T_χ)
    lsv_t, lsv2_t = log_sv(u), log_sv2(u)
    lsv_c, lsv2_c = log_sv(u_chi), log_sv2(u_chi)
    # (4.8) per d ln x: x·Y'/Y = (n_eq/H̃)[e^{−D}⟨σv⟩_T − e^{D}⟨σv⟩_{T_χ}]; plus x·b
    b = x * freeze_out._b(x, m)
    d_dot = jnp.exp(log_n - d + lsv_t) - jnp.exp(log_n + d + lsv_c) + b
    # (4.9) per d ln x
    gamma_over_h = jnp.exp(log_gamma(u) - log_h)
    w = 1.0 - jnp.exp(log_one_minus_w(u_chi))
    if elastic == "exact":
        elastic_term = gamma_over_h * (jnp.exp(-phi) * averages.elastic_a_factor(m, t_chi) - w)
    else:
        elastic_term = gamma_over_h * jnp.expm1(-phi)
    ann_chi = jnp.exp(log_n + d + lsv_c) - jnp.exp(log_n + d + lsv2_c)
    ann_bath = jnp.exp(log_n - d - phi + lsv2_t) - jnp.exp(log_n - d + lsv_t)
    hubble = 2.0 * (1.0 - w) * (1.0 + dlng / 3.0)
    phi_dot = elastic_term + ann_chi + ann_bath + hubble - (1.0 + 2.0 * dlng / 3.0)
    return jnp.stack([d_dot, phi_dot])


def _kinetic_start(x_chem, m, log_gamma):
    """Latest x ≤ x_chem (on a log grid from 1) where γ ≥ 10³ H̃ — kinetic equilibrium holds there."""
    grid = x_chem ** jnp.linspace(0.0, 1.0, 48)
    log_h = thermo.log_hubble_tilde(m / grid)
    ok = log_gamma(jnp.log(grid)) - log_h >= jnp.log(1e3)
    last_ok = jnp.where(ok.any(), jnp.max(jnp.where(ok, jnp.arange(48), 0)), 0)
    return grid[last_ok]


def _table_sigma_v(T, table_and_mass):
    """⟨σv⟩(T) read from a Hermite table of ln⟨σv⟩ in ln(m/T) (used to find the start point)."""
    table, m = table_and_mass
    return jnp.exp(table(jnp.log(m / T)))


def solve(sigma_v, sigma_v_2, momentum_transfer, params, m, g, settings=slv.DEFAULT, x_final=1e4,
          table_nodes=160, elastic="nr", history=0, table_slopes="fd"):
    """Solve the cBE (4.8)–(4.9) for DM of mass ``m`` [GeV] with ``g`` states.

    ``sigma_v(T′, params)``, ``sigma_v_2(T′, params)``: ⟨σv⟩ and ⟨σv⟩₂ [GeV⁻²] at temperature T′;
    ``momentum_transfer(T, params)``: γ(T) [GeV]; ``elastic``: "nr" (DRAKE) or "exact"
    (docs/physics/resonant-alp.md §5.4). Pure and jittable; returns :class:`KineticDecouplingResult`.
    ``history``: saved points (static).

    Tables (Hermite, ``table_nodes`` nodes, slopes by fourth-order finite differences — ``table_slopes=
    "jvp"`` for exact ones, ~2× the cost) of ln⟨σv⟩, ln⟨σv⟩₂ and ln(1 − w) over
    ln(m/T′) ∈ [ln 0.1, ln(10 x_final²)] — every T′ = T or T_χ met from x = 1 on — and of ln γ over
    ln x ∈ [0, ln x_final]; the start point is found on the tables.
    """
    if elastic not in ("nr", "exact"):
        raise ValueError(f"elastic = {elastic!r} is not allowed: choose 'nr' or 'exact'")
    lo, hi = jnp.log(0.1), jnp.log(10.0 * x_final**2)
    u1 = jnp.log(x_final)

    def tabulate(f, a, b, n):
        return tables.tabulate_hermite(lambda v: jnp.log(f(m * jnp.exp(-v), params)), a, b, n, table_slopes)

    log_sv = tabulate(sigma_v, lo, hi, table_nodes)
    log_sv2 = tabulate(sigma_v_2, lo, hi, table_nodes)
    log_gamma = tabulate(momentum_transfer, 0.0, u1, table_nodes // 2)
    log_one_minus_w = tables.tabulate_hermite(
        lambda v: jnp.log1p(-averages.w_factor(m, m * jnp.exp(-v))), lo, hi, table_nodes // 2, table_slopes)
    x_chem, d0, x_f = freeze_out.start_point(_table_sigma_v, (log_sv, m), m, g)
    x0 = jnp.minimum(x_chem, _kinetic_start(x_chem, m, log_gamma))
    d0 = jnp.where(x0 < x_chem, freeze_out.quasi_static_deviation(x0, m, g, _table_sigma_v, (log_sv, m)), d0)
    u0 = jnp.log(x0)
    args = (m, g, log_sv, log_sv2, log_gamma, log_one_minus_w, elastic)
    # Φ start: one Newton step on its own equation from Φ = 0
    f_phi = lambda phi: _rhs(u0, jnp.stack([d0, phi]), args)[1]
    value, slope = jax.jvp(f_phi, (jnp.zeros_like(d0),), (jnp.ones_like(d0),))
    phi0 = -value / slope
    ts = u0 + (u1 - u0) * jnp.linspace(0.0, 1.0, history) if history else None
    end, ys = slv.integrate_with_history(_rhs, u0, u1, jnp.stack([d0, phi0]), args, settings, ts,
                                         TANGENT_PANELS)
    status = freeze_out.validity_status(x_f, end.status)  # chemical freeze-out at x_f < 3: relativistic
    ok = status == 0
    d_end, phi_end = end.y1[0], end.y1[1]
    y_today = jnp.where(ok, jnp.exp(thermo.log_yield_eq(m, g, m / x_final) + d_end), jnp.nan)
    out = dict(
        omega_h2=OMEGA_H2_PER_MY * m * y_today,
        yield_today=y_today,
        x_start=x0,
        x_final=jnp.asarray(x_final, dtype=jnp.float64),
        temperature_ratio_final=jnp.exp(phi_end),
        num_steps=end.num_steps,
        status=status,
    )
    if history:
        xs = jnp.exp(ts)
        T = m / xs
        out["x_history"] = xs
        log_yield_eq = thermo.log_yield_eq(m, g, T)
        out["yield_eq_history"] = jnp.exp(log_yield_eq)
        out["yield_history"] = jnp.exp(log_yield_eq + ys[:, 0])  # Y = Y_eq e^D, one exp: no 0·∞
        out["y_eq_history"] = thermo.y_eq(m, T)
        out["y_history"] = out["y_eq_history"] * jnp.exp(ys[:, 1])
    return KineticDecouplingResult(**out)
