"""Rodas4: a linearly implicit (Rosenbrock) stiff solver for diffrax, written for bkdm's small
Boltzmann systems (1–2 variables).

Hairer & Wanner, *Solving ODEs II* (2nd ed.), §IV.7, method RODAS (their code ``rodas.f``, METH = 1):
6 stages, order 4 with an embedded order-3 solution, L-stable and stiffly accurate. For
dy/dt = f(t, y), with J = ∂f/∂y and f_t = ∂f/∂t at (t₀, y₀) and W = I/(γh) − J, the stages are

    W k_i = f(t₀ + c_i h, y₀ + Σ_{j<i} a_ij k_j) + Σ_{j<i} (C_ij/h) k_j + d_i h f_t ,   i = 1…6,

y₁ = y₀ + Σ_{j≤4} a_5j k_j + k₅ + k₆ and the local error estimate is k₆ (the order-3 solution is the
6th stage argument). One Jacobian, one factorisation and six right-hand sides per step — against
Kvaerno5's seven stages each solved by a Newton-chord iteration (an inner while loop and 2–3
right-hand sides per stage). J and f_t are exact (``jax.jacfwd``), which a Rosenbrock method
requires; forward-mode differentiation through a step is plain arithmetic (no implicit-function
adjoint of a root find).

Measured on bkdm's Boltzmann systems: see :mod:`bkdm.cosmo.solver` and ``benchmarks/relic.py``.
"""

from collections.abc import Callable
from typing import ClassVar

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

# Hairer–Wanner rodas.f, METH = 1 (coefficients as printed there).
GAMMA = 0.25
C = np.array([0.0, 0.386, 0.21, 0.63, 1.0, 1.0])
D = np.array([0.25, -0.1043, 0.1035, -0.0362, 0.0, 0.0])
A = np.zeros((6, 6))
A[1, 0] = 1.544
A[2, :2] = [0.9466785280815826, 0.2557011698983284]
A[3, :3] = [3.314825187068521, 2.896124015972201, 0.9986419139977817]
A[4, :4] = [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950]
A[5, :5] = [*A[4, :4], 1.0]
GC = np.zeros((6, 6))  # the C_ij of the stage equations
GC[1, 0] = -5.6688
GC[2, :2] = [-2.430093356833875, -0.2063599157091915]
GC[3, :3] = [-0.1073529058151375, -9.594562251023355, -20.47028614809616]
GC[4, :4] = [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160]
GC[5, :5] = [8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136, -6.058818238834054]
B = np.array([*A[4, :4], 1.0, 1.0])  # y₁ = y₀ + Σ B_j k_j (stiffly accurate)
# Continuous extension of rodas.f (its dense output, order 3): y(t₀ + θh) = (1 − θ) y₀ + θ [y₁ +
# (1 − θ)(Σ_j H2_j k_j + θ Σ_j H3_j k_j)], j = 1…5 (Hairer–Wanner rodas.f; the same numbers are
# OrdinaryDiffEq.jl's Rodas4 h2j, h3j).
H2 = np.array([10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823,
               1.025137723295662])
H3 = np.array([-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386,
               -6.594389125716872])


def _small_solver(w):
    """A function b ↦ w⁻¹ b for a small square matrix w: closed forms for n = 1, 2 (no LAPACK call
    inside the step loop), LU otherwise. Returns (solve, det_ok) with det_ok False if w is singular."""
    n = w.shape[0]
    if n == 1:
        d = w[0, 0]
        ok = jnp.isfinite(d) & (d != 0.0)
        inv = 1.0 / jnp.where(ok, d, 1.0)
        return (lambda b: b * inv), ok
    if n == 2:
        det = w[0, 0] * w[1, 1] - w[0, 1] * w[1, 0]
        ok = jnp.isfinite(det) & (det != 0.0)
        r = 1.0 / jnp.where(ok, det, 1.0)
        inv = r * jnp.array([[w[1, 1], -w[0, 1]], [-w[1, 0], w[0, 0]]])
        return (lambda b: inv @ b), ok
    lu, piv = jax.scipy.linalg.lu_factor(w)
    ok = jnp.all(jnp.isfinite(lu)) & jnp.all(jnp.diag(lu) != 0.0)
    return (lambda b: jax.scipy.linalg.lu_solve((lu, piv), b)), ok


class RodasInterpolation(diffrax.AbstractLocalInterpolation):
    """Dense output of a :class:`Rodas4` step from t0 to t1: y(θ) = (1 − θ) y0 + θ [y1 + (1 − θ)(c2 + θ c3)],
    θ = (t − t0)/(t1 − t0), with c2, c3 the combinations (H2, H3) of the stages (rodas.f's continuous
    extension, order 3; used for saved histories). Built from the stages, it stays accurate for stiff
    components, which a cubic Hermite interpolant of (y, f) at the step ends does not: where y₁ carries
    an error δ ~ atol on a component relaxing at rate λ ≫ 1/h, f₁ ≈ λδ and the cubic bulges by ~hλδ
    inside the step (measured on the ALP freeze-in, rtol = atol = 1e-6: Hermite 8e-5, this 1.7e-6, the
    step ends 1.0e-6 off; the former linear interpolation is first order)."""

    t0: jax.Array
    t1: jax.Array
    y0: jax.Array
    y1: jax.Array
    c2: jax.Array
    c3: jax.Array

    def evaluate(self, t0, t1=None, left=True):
        del left
        if t1 is not None:
            return self.evaluate(t1) - self.evaluate(t0)
        th = (t0 - self.t0) / (self.t1 - self.t0)
        return (1.0 - th) * self.y0 + th * (self.y1 + (1.0 - th) * (self.c2 + th * self.c3))


class Rodas4(diffrax.AbstractAdaptiveSolver):
    """Hairer–Wanner RODAS (order 4(3), L-stable, stiffly accurate) for ``diffrax.ODETerm`` problems
    with a small state (module docstring); dense output :class:`RodasInterpolation` (order 3)."""

    term_structure: ClassVar = diffrax.ODETerm
    interpolation_cls: ClassVar[Callable[..., RodasInterpolation]] = RodasInterpolation

    def order(self, terms):
        del terms
        return 4

    def error_order(self, terms):
        del terms
        return 4  # the embedded solution is order 3: local error O(h⁴)

    def init(self, terms, t0, t1, y0, args):
        del terms, t0, t1, y0, args
        return None

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        shape = y0.shape
        h = t1 - t0

        def f(t, y):
            return jnp.ravel(terms.vf(t, y.reshape(shape), args))

        y = jnp.ravel(y0)
        n = y.shape[0]
        # f, ∂f/∂y and ∂f/∂t at (t₀, y₀) in one batched forward-mode pass
        z0 = jnp.concatenate([jnp.reshape(t0, (1,)).astype(y.dtype), y])
        jac, f0 = jax.jacfwd(lambda z: (f(z[0], z[1:]),) * 2, has_aux=True)(z0)
        f_t, J = jac[:, 0], jac[:, 1:]
        w = jnp.eye(n, dtype=y.dtype) / (GAMMA * h) - J
        solve, ok = _small_solver(w)
        ks = []
        for i in range(6):
            if i == 0:
                fi = f0
            else:
                yi = y + sum(A[i, j] * ks[j] for j in range(i) if A[i, j] != 0.0)
                fi = f(t0 + C[i] * h, yi)
            rhs = fi + sum((GC[i, j] / h) * ks[j] for j in range(i))
            if D[i] != 0.0:
                rhs = rhs + (D[i] * h) * f_t
            ks.append(solve(rhs))
        y1 = y + sum(B[j] * ks[j] for j in range(6))
        y_error = ks[5]
        good = ok & jnp.all(jnp.isfinite(y1))
        # a singular W or a non-finite stage: report an infinite error so the controller rejects the step
        y_error = jnp.where(good, y_error, jnp.inf)
        y1 = jnp.where(good, y1, y).reshape(shape)
        c2 = sum(H2[j] * ks[j] for j in range(5)).reshape(shape)
        c3 = sum(H3[j] * ks[j] for j in range(5)).reshape(shape)
        dense_info = dict(y0=y0, y1=y1, c2=c2, c3=c3)
        return y1, y_error.reshape(shape), dense_info, None, diffrax.RESULTS.successful
