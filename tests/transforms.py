"""Shared checks that a physics function works under jit, grad and vmap.

``check_transforms(f, x)`` for a scalar function of one scalar argument x (close over the rest):
* jit(f)(x) equals f(x) (rtol 1e-12: same XLA ops, fusion may reorder a few flops);
* grad(f)(x) is finite and agrees with a central finite difference to ``fd_rtol``
  (default 1e-5: step h = 1e-6·|x| gives truncation O(h²) and round-off O(ε/h) ≈ 1e-10 relative);
* vmap(f) over ``x·(1 + δ)`` equals a Python loop of f (rtol 1e-12).
"""

import jax
import jax.numpy as jnp
import numpy as np


def check_transforms(f, x, fd_rtol=1e-5, fd_atol=0.0, rel_step=1e-6, batch=(0.97, 1.0, 1.03)):
    x = float(x)
    y = float(f(x))
    yj = float(jax.jit(f)(x))
    np.testing.assert_allclose(yj, y, rtol=1e-12, atol=1e-300)
    g = float(jax.grad(f)(x))
    assert np.isfinite(g), f"gradient not finite at x={x}"
    h = rel_step * abs(x) if x != 0 else rel_step
    fd = (float(f(x + h)) - float(f(x - h))) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=fd_rtol, atol=fd_atol)
    xs = jnp.asarray([x * b for b in batch])
    yv = np.asarray(jax.vmap(f)(xs))
    yl = np.array([float(f(float(v))) for v in xs])
    np.testing.assert_allclose(yv, yl, rtol=1e-12, atol=1e-300)
    return y, g
