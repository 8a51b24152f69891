"""bkdm — a differentiable JAX engine for B⁺ → K⁺ + invisible and dark-matter relic density.

Importing bkdm enables float64 in JAX (``jax_enable_x64``) and JAX's persistent compilation cache
in a per-user folder (:mod:`bkdm.compile_cache`). Units everywhere: GeV (natural units
ħ = c = k_B = 1) unless a docstring says otherwise. Physics lives in SPEC.md (shared/physics);
every formula cites its section and the source paper's equation.
"""

import os

# Runtime checks inside equinox/lineax (e.g. a linear solve fed non-finite values at an extreme
# parameter point of a NUTS trajectory) return NaN instead of aborting the whole program: bkdm
# reports such points through its status codes / +inf likelihood (never silently). Takes effect
# when bkdm is imported before equinox; set EQX_ON_ERROR yourself to override.
os.environ.setdefault("EQX_ON_ERROR", "nan")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

# JAX's persistent compilation cache in bkdm's per-user cache folder (bkdm.compile_cache: only sets
# the option; BKDM_NO_CACHE=1 switches it off, JAX_COMPILATION_CACHE_DIR or BKDM_CACHE_DIR moves it).
from bkdm import compile_cache  # noqa: E402

compile_cache.enable_jax_cache()

__version__ = "0.1.0"

from bkdm import constants, formfactors, kinematics, qcd, special  # noqa: E402

__all__ = ["constants", "formfactors", "kinematics", "qcd", "special", "__version__"]
