"""Kinematics helpers (docs/physics/alp.md §2.3): Källén function, two-body momenta, threshold factors.

All functions are pure JAX, safe at and beyond thresholds: a closed channel returns exactly 0 with
a finite gradient (``jnp.where`` on a clipped inner value).
"""

import jax.numpy as jnp


def kallen(a, b, c):
    """Källén function λ(a, b, c) = a² + b² + c² − 2ab − 2ac − 2bc (docs/physics/alp.md §2.3)."""
    return a * a + b * b + c * c - 2.0 * (a * b + a * c + b * c)


def safe_sqrt(x):
    """√x for x > 0 and exactly 0 (with zero, finite gradient) for x ≤ 0."""
    pos = x > 0.0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def safe_pow(x, p):
    """x**p for x > 0, exactly 0 with finite gradient for x ≤ 0 (p > 0)."""
    pos = x > 0.0
    return jnp.where(pos, jnp.where(pos, x, 1.0) ** p, 0.0)


def sqrt_kallen(m_parent, m1, m2):
    """λ^{1/2}(M², m₁², m₂²) [GeV²]; 0 when the decay M → m₁ m₂ is closed."""
    return safe_sqrt(kallen(m_parent**2, m1**2, m2**2))


def two_body_momentum(m_parent, m1, m2):
    """|p| of either daughter in the rest frame of the parent, λ^{1/2}(M², m₁², m₂²)/(2M) [GeV]."""
    return sqrt_kallen(m_parent, m1, m2) / (2.0 * m_parent)


def threshold_beta(m_parent, m_daughter):
    """β = √(1 − 4m²/M²) for M → m m; 0 below threshold (finite gradient)."""
    return safe_sqrt(1.0 - 4.0 * m_daughter**2 / m_parent**2)


def is_open(m_parent, *m_daughters):
    """Boolean array: is M > Σ m_i (decay kinematically open)?"""
    return m_parent > sum(m_daughters)
