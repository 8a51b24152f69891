"""Solve Ωh²(θ) = target for one parameter: the "coupling that gives the observed relic density"
curves of the papers ([C] Fig. 2, [D] Figs. 2, 3, 6, 7 and Table 1).

:func:`solve_log` finds v = ln x in a bracket [ln lo, ln hi] with f(v) = ln Ω(e^v) − ln target by
safeguarded Newton (derivative by ``jax.jvp``, i.e. forward mode through the relic solve): a Newton
step that would leave the current bracket is replaced by bisection, and the bracket shrinks around
the sign change every iteration. Fixed iteration count, so it jits and vmaps (many curves at once).
Returns the root, the final |f| and a flag (bracket valid, converged, all solves finite).
"""

import jax
import jax.numpy as jnp

from bkdm.constants import OMEGA_DM_H2


def solve_log(omega_of_x, lo, hi, target=OMEGA_DM_H2, iterations=40, tol=1e-9):
    """x in [lo, hi] with ``omega_of_x(x)`` = ``target`` (both > 0). Pure JAX; returns
    (x, residual = |ln Ω/target|, ok). ``omega_of_x`` must be monotonic on the bracket and
    forward-differentiable: run its relic solve with ``SolverSettings(forward_mode=True)``."""
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
    ok = bracket_ok & (residual < 1e-6)
    return jnp.exp(v), residual, ok
