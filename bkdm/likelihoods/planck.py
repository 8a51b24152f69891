"""Planck relic-density term (docs/physics/constants.md §1.3, docs/validation.md §7.6):
Ω_DM h² = 0.120 ± 0.001 (Planck 2018 TT,TE,EE+lowE+lensing).

−2 ln L = (Ωh²_pred − 0.120)² / σ²,  σ² = σ_Planck² + (f_th · 0.120)²,

with an optional relative theory uncertainty f_th (default 1 %: our relic-density calculation —
g_*(T) fit, α_s scale, thermal averages — is not better than about a percent) added in quadrature.
σ_th is taken relative to the measured value, not the prediction, so the term stays an exact
Gaussian in the prediction (a prediction-proportional error would flatten the penalty far away).
Constant terms are dropped.
"""

import jax.numpy as jnp

from bkdm._validation import check_nonnegative
from bkdm.constants import OMEGA_DM_H2, OMEGA_DM_H2_SIGMA

DEFAULT_THEORY_REL_UNCERTAINTY = 0.01


def omega_h2_sigma(theory_rel_uncertainty=DEFAULT_THEORY_REL_UNCERTAINTY):
    """Total Gaussian width √(σ_Planck² + (f_th Ω_obs h²)²) (dimensionless)."""
    check_nonnegative("theory_rel_uncertainty", theory_rel_uncertainty)
    return jnp.sqrt(OMEGA_DM_H2_SIGMA**2 + (theory_rel_uncertainty * OMEGA_DM_H2) ** 2)


def twice_nll(omega_h2, theory_rel_uncertainty=DEFAULT_THEORY_REL_UNCERTAINTY):
    """−2 ln L of a predicted Ω_DM h² against Planck (module docstring; docs/physics/constants.md §1.3)."""
    sigma = omega_h2_sigma(theory_rel_uncertainty)
    return ((jnp.asarray(omega_h2, dtype=jnp.float64) - OMEGA_DM_H2) / sigma) ** 2
