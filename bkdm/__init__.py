"""bkdm — a differentiable JAX engine for B⁺ → K⁺ + invisible and dark-matter relic density.

Importing bkdm enables float64 in JAX (``jax_enable_x64``). Units everywhere: GeV (natural units
ħ = c = k_B = 1) unless a docstring says otherwise. Physics lives in SPEC.md (shared/physics);
every formula cites its section and the source paper's equation.
"""

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

from bkdm import constants, formfactors, kinematics, qcd, special  # noqa: E402

__all__ = ["constants", "formfactors", "kinematics", "qcd", "special", "__version__"]
