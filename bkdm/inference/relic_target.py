"""Solve Ωh²(θ) = target for one parameter: the "coupling that gives the observed relic density"
curves of the papers ([C] Fig. 2, [D] Figs. 2, 3, 6, 7 and Table 1).

:func:`solve_log` finds v = ln x in a bracket [ln lo, ln hi] with f(v) = ln Ω(e^v) − ln target by
safeguarded Newton (derivative by ``jax.jvp``, i.e. forward mode through the relic solve): a Newton
step that would leave the current bracket is replaced by bisection, and the bracket shrinks around
the sign change every iteration. Fixed iteration count, so it jits and vmaps (many curves at once).
Returns the root, the final |f| and a flag (bracket valid, converged, all solves finite).

:func:`solve_log_batch` is the value-only alternative for many curves at once on the host: a
vectorised secant in (ln x, ln Ω) around a batched, jitted Ωh² (no forward-mode compile, which on a
2-core CPU costs minutes for the cBE).
"""

import jax
import jax.numpy as jnp
import numpy as np

from bkdm.constants import OMEGA_DM_H2


def solve_log(omega_of_x, lo, hi, target=OMEGA_DM_H2, iterations=40, tol=1e-9, ok_tol=1e-5):
    """x in [lo, hi] with ``omega_of_x(x)`` = ``target`` (both > 0). Pure JAX; returns
    (x, residual = |ln Ω/target|, ok = bracket valid and residual < ``ok_tol``). ``omega_of_x`` must
    be monotonic on the bracket and forward-differentiable: run its relic solve with
    ``SolverSettings(forward_mode=True)``. ``ok_tol`` default 1e-5: Ωh² from a DEFAULT solve is
    smooth in x only to ~1e-6–1e-5, so a tighter demand flags converged roots as failures."""
    f = lambda v: jnp.log(omega_of_x(jnp.exp(v))) - jnp.log(target)
    a, b = jnp.log(lo), jnp.log(hi)
    fa, fb = f(a), f(b)
    bracket_ok = jnp.isfinite(fa) & jnp.isfinite(fb) & (jnp.sign(fa) != jnp.sign(fb))
    # start from the secant (log-linear interpolation) inside the bracket
    v0 = jnp.where(bracket_ok, a - fa * (b - a) / (fb - fa), 0.5 * (a + b))

    def body(_, state):
        a, b, fa, v = state
        fv, dfv = jax.jvp(f, (v,), (jnp.ones_like(v),))
        # shrink the bracket around the sign change
        left = jnp.sign(fv) == jnp.sign(fa)
        a, fa, b = jnp.where(left, v, a), jnp.where(left, fv, fa), jnp.where(left, b, v)
        newton = v - fv / jnp.where(dfv != 0, dfv, 1.0)
        inside = (newton > jnp.minimum(a, b)) & (newton < jnp.maximum(a, b)) & jnp.isfinite(newton)
        v_next = jnp.where(inside & (dfv != 0), newton, 0.5 * (a + b))
        v_next = jnp.where(jnp.abs(fv) < tol, v, v_next)
        return a, b, fa, v_next

    a, b, fa, v = jax.lax.fori_loop(0, iterations, body, (a, b, fa, v0))
    residual = jnp.abs(f(v))
    ok = bracket_ok & (residual < ok_tol)
    return jnp.exp(v), residual, ok


def solve_log_batch(log_ratio, x_start, tol=5e-6, iterations=15, slope_guess=-2.0, max_step=3.0):
    """Roots of ``log_ratio(x)`` = ln(Ω(x)/target) for a batch of curves (host-side numpy loop).

    ``log_ratio`` maps an array x (one entry per curve) to ln Ω/target (NaN where a solve failed),
    typically a ``jax.jit(jax.vmap(...))`` relic solve. Secant in (v = ln x, f): the first step uses
    ``slope_guess`` (d ln Ω/d ln x; −2 for Ω ∝ coupling⁻²), then the secant slope where it is finite
    and < −0.1 (Ω decreasing in x), otherwise the guess again; steps are capped at |Δv| ≤ ``max_step``.
    Stops when |f| < ``tol`` for every curve or after ``iterations`` secant steps. Returns
    (x, |f|, steps), with the best x seen per curve (|f| = inf where every solve failed)."""
    v0 = np.log(np.asarray(x_start, dtype=float))
    f0 = np.asarray(log_ratio(np.exp(v0)), dtype=float)
    v1 = v0 + np.clip(-np.nan_to_num(f0) / slope_guess, -max_step, max_step)
    f1 = np.asarray(log_ratio(np.exp(v1)), dtype=float)
    best_v = np.where(np.abs(f1) < np.abs(f0), v1, v0)
    best_f = np.nan_to_num(np.minimum(np.abs(f0), np.abs(f1)), nan=np.inf)
    steps = 0
    while steps < iterations and not np.all(best_f < tol):
        steps += 1
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (f1 - f0) / (v1 - v0)
        slope = np.where(np.isfinite(slope) & (slope < -0.1), slope, slope_guess)
        step = np.clip(-np.nan_to_num(f1) / slope, -max_step, max_step)
        v2 = np.where(best_f < tol, best_v, np.where(np.isfinite(f1), v1, best_v) + step)
        f2 = np.asarray(log_ratio(np.exp(v2)), dtype=float)
        better = np.abs(f2) < best_f  # False for NaN (failed solve)
        best_v, best_f = np.where(better, v2, best_v), np.where(better, np.abs(f2), best_f)
        v0, f0, v1, f1 = v1, f1, v2, f2
    return np.exp(best_v), best_f, steps
