"""Interpolation tables: tabulate a function once per parameter point, evaluate it cheaply inside an
ODE right-hand side (docs/physics/numerics.md §10.4: tabulating ⟨σv⟩(x) per point and interpolating
in the RHS was 5× faster than quadrature in the RHS at 1.5e-6 accuracy).

* :class:`ChebyshevTable` — global interpolant at the n Chebyshev points of the first kind; spectral
  accuracy for smooth functions (production rates of freeze-in, ln λ over a freeze-out).
  Coefficients are a fixed linear map (a DCT written as a matrix product) of the samples.
* :class:`HermiteTable` — piecewise-cubic Hermite interpolant on a uniform grid with exact slopes
  (forward-mode AD); local, so a sharp feature (the corner where a thermally averaged resonance
  gives way to the continuum) spoils only its own interval, not the whole range.

Both are differentiable in the tabulated function's parameters and in the interval ends. Arguments
outside [u_lo, u_hi] are clamped — callers choose the interval to cover every argument they need.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def _clamp(t, lo, hi):
    """t limited to [lo, hi] (arguments outside the table are held at its ends). Within a few
    rounding errors of an end (|excess| ≤ 1e-12 of the unit) t is kept, with its derivative: an
    argument at the end of the tabulated interval — e.g. the last collocation node of a solve that
    ends there — must see the interior derivative with respect to the interval's ends, not ½ of it
    (``jnp.clip`` at a tie) or none (clamped by a rounding error)."""
    slack = 1e-12 * (hi - lo)
    return jnp.where(t > hi + slack, hi, jnp.where(t < lo - slack, lo, t))


def nodes(n):
    """Chebyshev points of the first kind on [−1, 1] (descending), t_j = cos(π(j + ½)/n)."""
    return np.cos(np.pi * (np.arange(n) + 0.5) / n)


def _dct_matrix(n):
    j = np.arange(n)
    k = j[:, None]
    mat = (2.0 / n) * np.cos(np.pi * k * (j[None, :] + 0.5) / n)
    mat[0] *= 0.5
    return mat


class ChebyshevTable(eqx.Module):
    """f(u) ≈ Σ_k c_k T_k(t), t = (2u − u_lo − u_hi)/(u_hi − u_lo); ``coeffs`` may carry extra
    trailing dimensions (several functions tabulated on the same nodes)."""

    u_lo: jax.Array
    u_hi: jax.Array
    coeffs: jax.Array

    def __call__(self, u):
        t = _clamp((2.0 * u - self.u_lo - self.u_hi) / (self.u_hi - self.u_lo), -1.0, 1.0)
        c = self.coeffs
        b1 = jnp.zeros_like(c[0] * t)
        b2 = jnp.zeros_like(b1)
        for k in range(c.shape[0] - 1, 0, -1):
            b1, b2 = 2.0 * t * b1 - b2 + c[k], b1
        return t * b1 - b2 + c[0]


def sample_points(u_lo, u_hi, n):
    """The n arguments at which to sample f for :func:`fit` (same order as ``nodes(n)``)."""
    return 0.5 * (u_lo + u_hi) + 0.5 * (u_hi - u_lo) * jnp.asarray(nodes(n))


def fit(values, u_lo, u_hi):
    """Table from ``values`` = f(sample_points(u_lo, u_hi, n)) (first axis: the n nodes)."""
    values = jnp.asarray(values)
    n = values.shape[0]
    coeffs = jnp.tensordot(jnp.asarray(_dct_matrix(n)), values, axes=1)
    return ChebyshevTable(jnp.asarray(u_lo, dtype=jnp.float64), jnp.asarray(u_hi, dtype=jnp.float64), coeffs)


def tabulate(f, u_lo, u_hi, n):
    """Table of f (a vectorisable JAX function of u) on [u_lo, u_hi] with n nodes."""
    return fit(jax.vmap(f)(sample_points(u_lo, u_hi, n)), u_lo, u_hi)


class HermiteTable(eqx.Module):
    """f(u) by cubic Hermite interpolation between uniform nodes u_k = u_lo + k h with values
    ``values[k]`` and slopes ``slopes[k]`` (extra trailing dimensions allowed)."""

    u_lo: jax.Array
    u_hi: jax.Array
    values: jax.Array
    slopes: jax.Array

    def __call__(self, u):
        n = self.values.shape[0]
        h = (self.u_hi - self.u_lo) / (n - 1)
        pos = _clamp((u - self.u_lo) / h, 0.0, n - 1.0)
        k = jnp.clip(jnp.floor(pos).astype(jnp.int32), 0, n - 2)
        t = pos - k
        t2, t3 = t * t, t * t * t
        return ((2 * t3 - 3 * t2 + 1) * self.values[k] + (t3 - 2 * t2 + t) * h * self.slopes[k]
                + (-2 * t3 + 3 * t2) * self.values[k + 1] + (t3 - t2) * h * self.slopes[k + 1])


# f is evaluated in chunks of this many nodes (``lax.map``), not all nodes at once: under an outer
# vmap over parameter points the intermediates of a thermal-average quadrature then stay in cache
# (points × chunk × quadrature nodes, not points × n × quadrature nodes). Measured on the resonant
# ALP cBE tables, 1000 points, 2-core CPU: 4.0 → 2.1 ms per point vmapped; single point +1 ms.
_MAP_CHUNK = 16


def _fd_slopes(values, h):
    """Slopes at uniform nodes from the values alone: fourth-order central differences inside,
    fourth-order one-sided formulas at the two outermost nodes of each end (error O(h⁴ f⁽⁵⁾))."""
    f = values
    inner = (f[:-4] - 8.0 * f[1:-3] + 8.0 * f[3:-1] - f[4:]) / 12.0
    d0 = (-25.0 * f[0] + 48.0 * f[1] - 36.0 * f[2] + 16.0 * f[3] - 3.0 * f[4]) / 12.0
    d1 = (-3.0 * f[0] - 10.0 * f[1] + 18.0 * f[2] - 6.0 * f[3] + f[4]) / 12.0
    e0 = (25.0 * f[-1] - 48.0 * f[-2] + 36.0 * f[-3] - 16.0 * f[-4] + 3.0 * f[-5]) / 12.0
    e1 = (3.0 * f[-1] + 10.0 * f[-2] - 18.0 * f[-3] + 6.0 * f[-4] - f[-5]) / 12.0
    return jnp.concatenate([d0[None], d1[None], inner, e1[None], e0[None]]) / h


def tabulate_hermite(f, u_lo, u_hi, n, slopes="jvp"):
    """Hermite table of f (a JAX function of scalar u) on n ≥ 5 uniform nodes; slopes by ``jax.jvp``
    (exact; costs a forward-mode pass of f) or ``slopes="fd"`` (fourth-order finite differences of the
    values: one evaluation of f per node, in chunks of ``_MAP_CHUNK`` nodes; the interpolant stays
    O(h⁴))."""
    if slopes == "fd" and n < 5:
        raise ValueError(f"n = {n} is too small for finite-difference slopes: need n ≥ 5 nodes")
    u = u_lo + (u_hi - u_lo) * jnp.linspace(0.0, 1.0, n)
    if slopes == "fd":
        values = jax.lax.map(f, u, batch_size=_MAP_CHUNK)
        d = _fd_slopes(values, (u_hi - u_lo) / (n - 1))
    elif slopes == "jvp":
        values, d = jax.vmap(lambda v: jax.jvp(f, (v,), (jnp.ones_like(v),)))(u)
    else:
        raise ValueError(f"slopes = {slopes!r} is not allowed: choose 'jvp' or 'fd'")
    return HermiteTable(jnp.asarray(u_lo, dtype=jnp.float64), jnp.asarray(u_hi, dtype=jnp.float64),
                        values, d)
